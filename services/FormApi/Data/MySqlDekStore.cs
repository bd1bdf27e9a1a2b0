using System.Data.Common;
using Dapper;
using Pii.Crypto.Keys;

namespace Pii.FormApi.Data;

/// <summary>
/// <c>encryption_keys</c> as an <see cref="IDekStore"/>: wrapped DEKs only (<c>vault:vN:…</c>), with KEK name and version.
/// A destroyed DEK (wrapped form erased) is reported as absent, so anything still naming it fails as an unknown key.
/// </summary>
internal sealed class MySqlDekStore(DncDatabase database) : IDekStore
{
    private const string Columns = "id, purpose, kek_name, kek_version, wrapped_dek, created_at, retired_at, use_count";

    public async Task<DekRecord> InsertIfNoActiveAsync(string purpose, WrappedDek wrapped, DateTimeOffset createdAt, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var active = await connection.QueryFirstOrDefaultAsync<Row>(new CommandDefinition(
            $"SELECT {Columns} FROM encryption_keys WHERE purpose = @purpose AND retired_at IS NULL AND destroyed_at IS NULL ORDER BY id DESC LIMIT 1 FOR UPDATE",
            new { purpose }, transaction, cancellationToken: cancellationToken));
        var record = active?.ToRecord() ?? await InsertAsync(connection, transaction, purpose, wrapped, createdAt, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return record;
    }

    public async Task<DekRecord?> GetAsync(int id, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var row = await connection.QueryFirstOrDefaultAsync<Row>(new CommandDefinition(
            $"SELECT {Columns} FROM encryption_keys WHERE id = @id AND destroyed_at IS NULL", new { id }, cancellationToken: cancellationToken));
        return row?.ToRecord();
    }

    public async Task<DekRecord?> GetActiveAsync(string purpose, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var row = await connection.QueryFirstOrDefaultAsync<Row>(new CommandDefinition(
            $"SELECT {Columns} FROM encryption_keys WHERE purpose = @purpose AND retired_at IS NULL AND destroyed_at IS NULL ORDER BY id DESC LIMIT 1",
            new { purpose }, cancellationToken: cancellationToken));
        return row?.ToRecord();
    }

    public async Task RetireAsync(int id, DateTimeOffset retiredAt, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE encryption_keys SET retired_at = @at WHERE id = @id AND retired_at IS NULL", new { id, at = retiredAt.UtcDateTime }, cancellationToken: cancellationToken));
    }

    public async Task<IReadOnlyList<DekRecord>> ListAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<Row>(new CommandDefinition(
            $"SELECT {Columns} FROM encryption_keys WHERE destroyed_at IS NULL ORDER BY id", cancellationToken: cancellationToken));
        return [.. rows.Select(r => r.ToRecord())];
    }

    public async Task<long> AddUsesAsync(int id, long count, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE encryption_keys SET use_count = use_count + @count WHERE id = @id", new { id, count }, transaction, cancellationToken: cancellationToken));
        var total = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT use_count FROM encryption_keys WHERE id = @id", new { id }, transaction, cancellationToken: cancellationToken));
        await transaction.CommitAsync(cancellationToken);
        return total;
    }

    public async Task UpdateWrappedAsync(int id, WrappedDek wrapped, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(wrapped);
        await using var connection = await database.OpenAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE encryption_keys SET kek_name = @KekName, kek_version = @KekVersion, wrapped_dek = @Ciphertext WHERE id = @id AND destroyed_at IS NULL",
            new { id, wrapped.KekName, wrapped.KekVersion, wrapped.Ciphertext }, cancellationToken: cancellationToken));
    }

    /// <summary>Inserts an active DEK row and returns its id (LAST_INSERT_ID comes back in the OK packet: no SELECT needed).</summary>
    public static async Task<int> InsertAsync(DbConnection connection, DbTransaction? transaction, string purpose, WrappedDek wrapped, DateTime createdAtUtc, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "INSERT INTO encryption_keys (purpose, kek_name, kek_version, wrapped_dek, created_at) VALUES (@purpose, @kek, @version, @wrapped, @at)";
        AddParameter(command, "@purpose", purpose);
        AddParameter(command, "@kek", wrapped.KekName);
        AddParameter(command, "@version", wrapped.KekVersion);
        AddParameter(command, "@wrapped", wrapped.Ciphertext);
        AddParameter(command, "@at", createdAtUtc);
        await command.ExecuteNonQueryAsync(cancellationToken);
        return checked((int)((MySqlConnector.MySqlCommand)command).LastInsertedId);
    }

    public static void AddParameter(DbCommand command, string name, object? value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value ?? DBNull.Value;
        command.Parameters.Add(parameter);
    }

    private static async Task<DekRecord> InsertAsync(DbConnection connection, DbTransaction transaction, string purpose, WrappedDek wrapped, DateTimeOffset createdAt, CancellationToken cancellationToken)
    {
        var id = await InsertAsync(connection, transaction, purpose, wrapped, createdAt.UtcDateTime, cancellationToken);
        return new DekRecord(id, purpose, wrapped, createdAt, null, 0);
    }

    private sealed record Row(int id, string purpose, string kek_name, int kek_version, string wrapped_dek, DateTime created_at, DateTime? retired_at, long use_count)
    {
        public DekRecord ToRecord() => new(id, purpose, new WrappedDek(kek_name, kek_version, wrapped_dek),
            new DateTimeOffset(DateTime.SpecifyKind(created_at, DateTimeKind.Utc)),
            retired_at is { } r ? new DateTimeOffset(DateTime.SpecifyKind(r, DateTimeKind.Utc)) : null, use_count);
    }
}
