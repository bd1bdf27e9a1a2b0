using System.Data.Common;
using System.Diagnostics;
using MySqlConnector;

namespace Pii.FormApi.Data;

/// <summary>
/// Opens connections to the <c>dnc</c> database as this instance's own MariaDB user (ConnectionStrings:dnc, through the
/// registered <see cref="MySqlDataSource"/>). Callers see only <see cref="DbConnection"/>.
/// </summary>
internal sealed class DncDatabase(MySqlDataSource dataSource)
{
    /// <summary>
    /// FormApi's own span around each statement group (db.system = mysql), named after the operation and table; the
    /// MySqlConnector spans of the single statements are its children.
    /// </summary>
    public static readonly ActivitySource Tracing = new("Pii.FormApi");

    public const int AccessDenied = 1142;

    public async Task<DbConnection> OpenAsync(CancellationToken cancellationToken) => await dataSource.OpenConnectionAsync(cancellationToken);

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
