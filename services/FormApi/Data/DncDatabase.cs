using System.Data.Common;
using System.Diagnostics;
using MySql.Data.MySqlClient;

namespace Pii.FormApi.Data;

/// <summary>
/// Opens connections to the <c>dnc</c> database as this instance's own MariaDB user (ConnectionStrings:dnc). Callers see
/// only <see cref="DbConnection"/>, so MySqlConnector can replace MySql.Data where it is available.
/// </summary>
internal sealed class DncDatabase(string connectionString)
{
    // MySql.Data ignores DbCommand.Prepare unless told otherwise; the re-encryption job relies on real server-side
    // prepared statements (binary protocol) for its bulk writes.
    private readonly string _connectionString = new MySqlConnectionStringBuilder(connectionString) { IgnorePrepare = false }.ConnectionString;

    /// <summary>MySql.Data emits no spans; FormApi records its own around each statement group (db.system = mysql).</summary>
    public static readonly ActivitySource Tracing = new("Pii.FormApi");

    public const int AccessDenied = 1142;

    public async Task<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new MySqlConnection(_connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    public static Activity? StartSpan(string operation, string table)
    {
        var activity = Tracing.StartActivity($"{operation} {table}", ActivityKind.Client);
        activity?.SetTag("db.system", "mysql");
        activity?.SetTag("db.namespace", "dnc");
        activity?.SetTag("db.operation.name", operation);
        activity?.SetTag("db.collection.name", table);
        return activity;
    }

    /// <summary>RFC 9562 byte order (big-endian fields), the order BINARY(16) ids sort in by time.</summary>
    public static byte[] ToBytes(Guid id) => id.ToByteArray(bigEndian: true);

    public static Guid FromBytes(byte[] bytes) => new(bytes, bigEndian: true);
}
