using System.Collections;
using System.Reflection;
using System.Runtime.CompilerServices;

namespace Pii.ServiceDefaults.Data;

/// <summary>
/// MySql.Data 8.0.16 (the only MySQL client that restores here) does not know MariaDB 10.6+'s charset name
/// <c>utf8mb3</c>, so any result with such a column (SHOW WARNINGS, information_schema) throws NotSupportedException.
/// The fix (PLATFORM.md): once per process, alias <c>utf8mb3</c> to the <c>utf8</c> entry of the client's internal
/// static dictionary <c>CharSetMap._mapping</c>. Reflection by name keeps this project free of the MySql.Data package;
/// call <see cref="Apply"/> from any process that references MySql.Data, before its first query.
/// </summary>
public static class MySqlCharsetShim
{
    private static readonly object Gate = new();
    private static bool _applied;

    public static void Apply()
    {
        lock (Gate)
        {
            if (_applied) return;
            var map = Type.GetType("MySql.Data.MySqlClient.CharSetMap, MySql.Data", throwOnError: true)!;
            RuntimeHelpers.RunClassConstructor(map.TypeHandle);
            var field = map.GetField("_mapping", BindingFlags.NonPublic | BindingFlags.Static)
                ?? throw new InvalidOperationException("MySql.Data changed: CharSetMap._mapping not found; revisit the utf8mb3 shim.");
            var mapping = (IDictionary)(field.GetValue(null) ?? throw new InvalidOperationException("CharSetMap._mapping is null."));
            if (!mapping.Contains("utf8mb3")) mapping["utf8mb3"] = mapping["utf8"];
            _applied = true;
        }
    }
}
