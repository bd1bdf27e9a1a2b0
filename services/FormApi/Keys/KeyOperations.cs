using System.Security.Cryptography;
using Dapper;
using Pii.Crypto.Keys;
using Pii.Crypto.Transit;
using Pii.FormApi.Data;

namespace Pii.FormApi.Keys;

internal sealed record KekRotationReport(string KekName, int KekVersion, int Rewrapped, int AlreadyCurrent, int Failed);

internal sealed record DekRotationReport(Guid JobId, int NewDekId, IReadOnlyList<int> RetiredDekIds);

internal enum DestroyOutcome
{
    Destroyed,
    NotFound,
    StillActive,
    StillInUse,
    AlreadyDestroyed,
}

/// <summary>
/// Admin key operations. KEK rotation adds a version in the key service and rewraps each stored DEK through
/// <c>transit/rewrap</c> (the DEK plaintext never leaves the key service; no data row is touched). DEK rotation makes a
/// new DEK, retires every active one in the same transaction (the intake's guarded INSERT then stores no new row under them; the
/// intake takes a fresh DEK) and queues a re-encryption job. Destroying a DEK erases its wrapped form once no row uses it.
/// </summary>
internal sealed class KeyOperations(TransitClient transit, IKeyEncryptionKey kek, DncDatabase database, DekManager deks, TimeProvider time)
{
    private const int RewrapBatch = 100;

    public async Task<KekRotationReport> RotateKekAsync(CancellationToken cancellationToken)
    {
        await transit.RotateKeyAsync(KeyServiceIdentity.DncKek, cancellationToken);
        return await RewrapAllAsync(cancellationToken);
    }

    /// <summary>Rewraps every live DEK still wrapped under an older KEK version (idempotent: safe to repeat after a failure).</summary>
    public async Task<KekRotationReport> RewrapAllAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var rows = (await connection.QueryAsync<(int Id, string Wrapped, int Version)>(new CommandDefinition(
            "SELECT id, wrapped_dek, kek_version FROM encryption_keys WHERE kek_name = @kek AND destroyed_at IS NULL ORDER BY id",
            new { kek = KeyServiceIdentity.DncKek }, cancellationToken: cancellationToken))).ToList();
        int latest = 0;
        int rewrapped = 0, current = 0, failed = 0;
        foreach (var chunk in rows.Chunk(RewrapBatch))
        {
            var results = await transit.RewrapBatchAsync(KeyServiceIdentity.DncKek, [.. chunk.Select(r => r.Wrapped)], cancellationToken);
            for (int i = 0; i < chunk.Length; i++)
            {
                var result = results[i];
                if (result.Value is null)
                {
                    failed++;
                    continue;
                }
                latest = Math.Max(latest, result.Value.KeyVersion);
                if (result.Value.KeyVersion == chunk[i].Version)
                {
                    current++;
                    continue;
                }
                // Optimistic: only replace the wrapped form that was rewrapped (a concurrent rewrap wins harmlessly).
                rewrapped += await connection.ExecuteAsync(new CommandDefinition(
                    "UPDATE encryption_keys SET wrapped_dek = @wrapped, kek_version = @version WHERE id = @id AND wrapped_dek = @old",
                    new { wrapped = result.Value.Ciphertext, version = result.Value.KeyVersion, id = chunk[i].Id, old = chunk[i].Wrapped },
                    cancellationToken: cancellationToken));
            }
        }
        if (latest == 0)
        {
            latest = (await transit.ReadKeyAsync(KeyServiceIdentity.DncKek, cancellationToken)).LatestVersion;
        }
        return new KekRotationReport(KeyServiceIdentity.DncKek, latest, rewrapped, current, failed);
    }

    public async Task<DekRotationReport> RotateDekAsync(CancellationToken cancellationToken)
    {
        var generated = await kek.GenerateDataKeyAsync(cancellationToken);
        // The job unwraps the new DEK through the key service when it runs; this process keeps no copy.
        CryptographicOperations.ZeroMemory(generated.Plaintext);
        var now = time.GetUtcNow().UtcDateTime;
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var retiring = (await connection.QueryAsync<int>(new CommandDefinition(
            "SELECT id FROM encryption_keys WHERE purpose = @purpose AND retired_at IS NULL AND destroyed_at IS NULL ORDER BY id FOR UPDATE",
            new { purpose = KeyServiceIdentity.Purpose }, transaction, cancellationToken: cancellationToken))).ToList();
        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE encryption_keys SET retired_at = @now WHERE purpose = @purpose AND retired_at IS NULL AND destroyed_at IS NULL",
            new { now, purpose = KeyServiceIdentity.Purpose }, transaction, cancellationToken: cancellationToken));
        int newId = await MySqlDekStore.InsertAsync(connection, transaction, KeyServiceIdentity.Purpose, generated.Wrapped, now, cancellationToken);
        // Every retired, not yet destroyed DEK that still has rows is a source (earlier jobs may have been cut short).
        var sources = (await connection.QueryAsync<int>(new CommandDefinition(
            "SELECT id FROM encryption_keys WHERE purpose = @purpose AND retired_at IS NOT NULL AND destroyed_at IS NULL ORDER BY id",
            new { purpose = KeyServiceIdentity.Purpose }, transaction, cancellationToken: cancellationToken))).ToList();
        long remaining = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT COUNT(*) FROM dnc_preferences WHERE dek_id IN @sources", new { sources }, transaction, cancellationToken: cancellationToken));
        var jobId = Guid.CreateVersion7();
        await connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO dek_reencryption_jobs (id, target_dek_id, source_dek_ids, status, rows_remaining, created_at, updated_at)
            VALUES (@id, @target, @sources, 'running', @remaining, @now, @now)
            """,
            new { id = DncDatabase.ToBytes(jobId), target = newId, sources = string.Join(',', sources), remaining, now }, transaction, cancellationToken: cancellationToken));
        // Older unfinished jobs are superseded: this one covers all their sources.
        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE dek_reencryption_jobs SET status = 'superseded', updated_at = @now, finished_at = @now WHERE status = 'running' AND id <> @id",
            new { now, id = DncDatabase.ToBytes(jobId) }, transaction, cancellationToken: cancellationToken));
        await transaction.CommitAsync(cancellationToken);
        return new DekRotationReport(jobId, newId, retiring);
    }

    /// <summary>
    /// Erases the wrapped form of a retired DEK that no row uses any more; the time is recorded in destroyed_at. While
    /// rows remain, the answer says how many, and how many of them a re-encryption job quarantined (they do not decrypt:
    /// an operator repairs or erases them; the DEK is never destroyed under them).
    /// </summary>
    public async Task<(DestroyOutcome Outcome, DateTime? DestroyedAt, long RowsUsingIt, long RowsQuarantined)> DestroyDekAsync(int dekId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var key = await connection.QueryFirstOrDefaultAsync<(DateTime? Retired, DateTime? Destroyed)>(new CommandDefinition(
            "SELECT retired_at, destroyed_at FROM encryption_keys WHERE id = @dekId FOR UPDATE", new { dekId }, transaction, cancellationToken: cancellationToken));
        var exists = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT COUNT(*) FROM encryption_keys WHERE id = @dekId", new { dekId }, transaction, cancellationToken: cancellationToken));
        if (exists == 0)
        {
            return (DestroyOutcome.NotFound, null, 0, 0);
        }
        if (key.Destroyed is not null)
        {
            return (DestroyOutcome.AlreadyDestroyed, key.Destroyed, 0, 0);
        }
        if (key.Retired is null)
        {
            return (DestroyOutcome.StillActive, null, 0, 0);
        }
        // No new row can be stored under a retired DEK (the intake's guarded INSERT, the update trigger), so a zero count here stays zero.
        var inUse = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT COUNT(*) FROM dnc_preferences WHERE dek_id = @dekId", new { dekId }, transaction, cancellationToken: cancellationToken));
        if (inUse > 0)
        {
            var quarantined = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
                "SELECT COUNT(DISTINCT p.id) FROM dnc_preferences p JOIN dek_reencryption_quarantine q ON q.record_id = p.id WHERE p.dek_id = @dekId",
                new { dekId }, transaction, cancellationToken: cancellationToken));
            return (DestroyOutcome.StillInUse, null, inUse, quarantined);
        }
        var now = time.GetUtcNow().UtcDateTime;
        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE encryption_keys SET wrapped_dek = '', destroyed_at = @now WHERE id = @dekId", new { now, dekId }, transaction, cancellationToken: cancellationToken));
        await transaction.CommitAsync(cancellationToken);
        deks.Forget(dekId);
        return (DestroyOutcome.Destroyed, now, 0, 0);
    }
}
