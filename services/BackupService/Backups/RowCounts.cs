using System.Globalization;
using MySqlConnector;
using Npgsql;

namespace Pii.BackupService.Backups;

/// <summary>
/// A PostgreSQL snapshot held open for a dump: a REPEATABLE READ, READ ONLY transaction whose snapshot is exported
/// (<c>pg_export_snapshot()</c>) and handed to pg_dump (<c>--snapshot</c>), so the row counts taken here are those of
/// exactly the data in the dump. The transaction must stay open until pg_dump has imported it; disposing ends it.
/// </summary>
internal sealed class PostgresSnapshot : IAsyncDisposable
{
    private readonly NpgsqlConnection _connection;
    private readonly NpgsqlTransaction _transaction;

    private PostgresSnapshot(NpgsqlConnection connection, NpgsqlTransaction transaction, string id)
    {
        _connection = connection;
        _transaction = transaction;
        Id = id;
    }

    public string Id { get; }

    public static async Task<PostgresSnapshot> ExportAsync(string connectionString, CancellationToken cancellationToken)
    {
        var connection = new NpgsqlConnection(connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);
            var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken);
            await using var readOnly = new NpgsqlCommand("SET TRANSACTION READ ONLY", connection, transaction);
            await readOnly.ExecuteNonQueryAsync(cancellationToken);
            await using var export = new NpgsqlCommand("SELECT pg_export_snapshot()", connection, transaction);
            var id = (string)(await export.ExecuteScalarAsync(cancellationToken))!;
            return new PostgresSnapshot(connection, transaction, id);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>Rows per ordinary table ("schema.table"), counted inside the exported snapshot.</summary>
    public async Task<SortedDictionary<string, long>> CountRowsAsync(CancellationToken cancellationToken)
    {
        var tables = new List<string>();
        await using (var list = new NpgsqlCommand(
            """
            SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname)
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
            ORDER BY 1
            """, _connection, _transaction))
        await using (var reader = await list.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken)) tables.Add(reader.GetString(0));
        }
        var counts = new SortedDictionary<string, long>(StringComparer.Ordinal);
        foreach (var table in tables)
        {
            // The name comes from quote_ident above, so it is a safe identifier.
            await using var count = new NpgsqlCommand($"SELECT count(*) FROM {table}", _connection, _transaction);
            counts[table] = (long)(await count.ExecuteScalarAsync(cancellationToken))!;
        }
        return counts;
    }

    public async ValueTask DisposeAsync()
    {
        await _transaction.DisposeAsync();
        await _connection.DisposeAsync();
    }
}

/// <summary>Row counts of a MariaDB database in one consistent-snapshot transaction (its own, not the dump's).</summary>
internal static class MariaDbRowCounts
{
    public static async Task<SortedDictionary<string, long>> CountAsync(string connectionString, string? database, CancellationToken cancellationToken)
    {
        var builder = new MySqlConnectionStringBuilder(connectionString);
        if (database is not null) builder.Database = database;
        await using var connection = new MySqlConnection(builder.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using (var start = new MySqlCommand("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY", connection))
        {
            await start.ExecuteNonQueryAsync(cancellationToken);
        }
        var tables = new List<string>();
        await using (var list = new MySqlCommand(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' ORDER BY table_name", connection))
        await using (var reader = await list.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken)) tables.Add(reader.GetString(0));
        }
        var counts = new SortedDictionary<string, long>(StringComparer.Ordinal);
        foreach (var table in tables)
        {
            await using var count = new MySqlCommand($"SELECT COUNT(*) FROM `{table.Replace("`", "``", StringComparison.Ordinal)}`", connection);
            counts[table] = Convert.ToInt64(await count.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture);
        }
        await using var commit = new MySqlCommand("COMMIT", connection);
        await commit.ExecuteNonQueryAsync(cancellationToken);
        return counts;
    }
}
