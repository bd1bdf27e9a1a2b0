using Dapper;
using Npgsql;
using Pii.Crypto.Keys;

namespace Pii.DocumentService.Data;

/// <summary>Wrapped DEKs in <c>documents.deks</c>; one active DEK per purpose is enforced by a partial unique index.</summary>
internal sealed class PostgresDekStore(NpgsqlDataSource database) : IDekStore
{
    private const string Columns = "id AS Id, purpose AS Purpose, kek_name AS KekName, kek_version AS KekVersion, ciphertext AS Ciphertext, "
        + "created_at AS CreatedAt, retired_at AS RetiredAt, use_count AS UseCount";

    public async Task<DekRecord> InsertIfNoActiveAsync(string purpose, WrappedDek wrapped, DateTimeOffset createdAt, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            "INSERT INTO documents.deks (purpose, kek_name, kek_version, ciphertext, created_at) VALUES (@purpose, @KekName, @KekVersion, @Ciphertext, @createdAt) "
            + "ON CONFLICT (purpose) WHERE retired_at IS NULL DO NOTHING",
            new { purpose, wrapped.KekName, wrapped.KekVersion, wrapped.Ciphertext, createdAt = createdAt.UtcDateTime }, cancellationToken: cancellationToken));
        return await GetActiveAsync(purpose, cancellationToken) ?? throw new InvalidOperationException("No active DEK after insert.");
    }

    public async Task<DekRecord?> GetAsync(int id, CancellationToken cancellationToken = default) =>
        (await QueryAsync($"SELECT {Columns} FROM documents.deks WHERE id = @id", new { id }, cancellationToken)).SingleOrDefault();

    public async Task<DekRecord?> GetActiveAsync(string purpose, CancellationToken cancellationToken = default) =>
        (await QueryAsync($"SELECT {Columns} FROM documents.deks WHERE purpose = @purpose AND retired_at IS NULL", new { purpose }, cancellationToken)).SingleOrDefault();

    public async Task RetireAsync(int id, DateTimeOffset retiredAt, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE documents.deks SET retired_at = @at WHERE id = @id AND retired_at IS NULL", new { id, at = retiredAt.UtcDateTime }, cancellationToken: cancellationToken));
    }

    public Task<IReadOnlyList<DekRecord>> ListAsync(CancellationToken cancellationToken = default) =>
        QueryAsync($"SELECT {Columns} FROM documents.deks ORDER BY id", null, cancellationToken);

    public async Task<long> AddUsesAsync(int id, long count, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "UPDATE documents.deks SET use_count = use_count + @count WHERE id = @id RETURNING use_count", new { id, count }, cancellationToken: cancellationToken));
    }

    public async Task UpdateWrappedAsync(int id, WrappedDek wrapped, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE documents.deks SET kek_name = @KekName, kek_version = @KekVersion, ciphertext = @Ciphertext WHERE id = @id",
            new { id, wrapped.KekName, wrapped.KekVersion, wrapped.Ciphertext }, cancellationToken: cancellationToken));
    }

    private async Task<IReadOnlyList<DekRecord>> QueryAsync(string sql, object? parameters, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<DekRow>(new CommandDefinition(sql, parameters, cancellationToken: cancellationToken));
        return [.. rows.Select(r => new DekRecord(r.Id, r.Purpose, new WrappedDek(r.KekName, r.KekVersion, r.Ciphertext),
            new DateTimeOffset(DateTime.SpecifyKind(r.CreatedAt, DateTimeKind.Utc)),
            r.RetiredAt is { } retired ? new DateTimeOffset(DateTime.SpecifyKind(retired, DateTimeKind.Utc)) : null, r.UseCount))];
    }

    private sealed record DekRow(int Id, string Purpose, string KekName, int KekVersion, string Ciphertext, DateTime CreatedAt, DateTime? RetiredAt, long UseCount);
}
