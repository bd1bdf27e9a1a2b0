namespace Pii.BackupService.Backups;

/// <summary>One audited operation: what (backup, restore, verify, prune, hold, drill), on which backup, by whom, outcome.</summary>
internal sealed record AuditEntry(DateTimeOffset At, string Action, string Source, Guid? BackupId, string Actor, string Outcome, string? Detail);

/// <summary>
/// Every backup, restore, verify, prune, hold and drill is written as its own authenticated record under
/// <c>audit/{yyyy}/{MM}/{dd}/</c> in the backups bucket (never overwritten: the key holds the time and a fresh id),
/// and logged. Details hold ids, counts and reasons, never data.
/// </summary>
internal sealed class AuditTrail(BackupRepository repository, BackupKeys keys, TimeProvider time, ILogger<AuditTrail> logger)
{
    public async Task WriteAsync(string action, string source, Guid? backupId, string actor, string outcome, string? detail = null)
    {
        var entry = new AuditEntry(time.GetUtcNow(), action, source, backupId, actor, outcome, detail);
        Log.Audit(logger, action, source, backupId, actor, outcome);
        var key = $"audit/{entry.At:yyyy}/{entry.At:MM}/{entry.At:dd}/{entry.At:HHmmssfffffff}-{Guid.NewGuid():N}.json";
        // Never with the caller's token: an operation that happened is recorded even when its request was cancelled.
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await repository.PutAsync(key, SignedRecord.Encode(keys, "audit", entry), limit.Token);
    }

    public async Task<List<AuditEntry>> ReadAsync(CancellationToken cancellationToken)
    {
        var entries = new List<AuditEntry>();
        foreach (var key in await repository.ListKeysAsync("audit/", cancellationToken))
        {
            if (await repository.GetAsync(key, cancellationToken) is { } bytes) entries.Add(SignedRecord.Decode<AuditEntry>(keys, "audit", bytes));
        }
        return [.. entries.OrderBy(e => e.At)];
    }
}
