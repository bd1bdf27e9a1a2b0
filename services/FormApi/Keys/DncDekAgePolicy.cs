using Dapper;
using Pii.FormApi.Data;
using Pii.Services.Shared;

namespace Pii.FormApi.Keys;

/// <summary>
/// The DEK age policy over <c>encryption_keys</c>, run by the back office's schedule. Each intake makes its own DEK
/// (and replaces it in memory at <see cref="DekRotationOptions.MaxAge"/>), so over-age rows stay active unless
/// something retires them: this does, and an intake still holding one is refused by its guarded INSERT and takes a
/// fresh DEK. Rows keep their DEK (it still decrypts); moving them to a new one is <c>POST /api/keys/rotate-dek</c>.
/// Each retirement is written to the access log.
/// </summary>
internal sealed class DncDekAgePolicy(DncDatabase database, AccessLog log, TimeProvider time) : IDekAgePolicy
{
    private const string Active = "purpose = @purpose AND retired_at IS NULL AND destroyed_at IS NULL";

    public async Task<int> RotateCreatedBeforeAsync(DateTimeOffset createdBefore, CancellationToken cancellationToken)
    {
        var arguments = new { purpose = KeyServiceIdentity.Purpose, cutoff = createdBefore.UtcDateTime, now = time.GetUtcNow().UtcDateTime };
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var expired = (await connection.QueryAsync<int>(new CommandDefinition(
            $"SELECT id FROM encryption_keys WHERE {Active} AND created_at <= @cutoff ORDER BY id FOR UPDATE", arguments, transaction,
            cancellationToken: cancellationToken))).ToList();
        if (expired.Count == 0)
        {
            return 0;
        }
        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE encryption_keys SET retired_at = @now WHERE id IN @expired", new { arguments.now, expired }, transaction, cancellationToken: cancellationToken));
        foreach (int id in expired)
        {
            await log.WriteAsync(connection, transaction, new AccessEntry("scheduler", "dek-age-policy", "retire-dek", null, $"dek:{id}", null, "ok", null), cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
        return expired.Count;
    }

    public async Task<DateTimeOffset?> OldestActiveAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var oldest = await connection.ExecuteScalarAsync<DateTime?>(new CommandDefinition(
            $"SELECT MIN(created_at) FROM encryption_keys WHERE {Active}", new { purpose = KeyServiceIdentity.Purpose }, cancellationToken: cancellationToken));
        return oldest is { } at ? new DateTimeOffset(DateTime.SpecifyKind(at, DateTimeKind.Utc)) : null;
    }
}
