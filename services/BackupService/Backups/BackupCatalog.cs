using System.Collections.Concurrent;

namespace Pii.BackupService.Backups;

internal enum BackupState
{
    Running,
    Completed,
    Failed,
}

/// <summary>One backup as the API shows it: live progress while it runs, its manifest once complete.</summary>
internal sealed class BackupJob(Guid id, string source, string objectKey, DateTimeOffset startedAt)
{
    private long _bytesDone;

    public Guid Id { get; } = id;
    public string Source { get; } = source;
    public string ObjectKey { get; } = objectKey;
    public DateTimeOffset StartedAt { get; } = startedAt;
    public BackupState State { get; set; } = BackupState.Running;
    public DateTimeOffset? FinishedAt { get; set; }
    public Manifest? Manifest { get; set; }
    public string? FailureReason { get; set; }

    /// <summary>Set while running when the key service was unreachable and the data key went to the recovery key only.</summary>
    public bool KeyServiceUnavailable { get; set; }

    public Task Completion { get; set; } = Task.CompletedTask;

    public long BytesDone
    {
        get => Interlocked.Read(ref _bytesDone);
        set => Interlocked.Exchange(ref _bytesDone, value);
    }

    /// <summary>Dump bytes per second so far (or over the whole run once finished).</summary>
    public double Rate(DateTimeOffset now)
    {
        var seconds = ((FinishedAt ?? now) - StartedAt).TotalSeconds;
        return seconds > 0 ? BytesDone / seconds : 0;
    }

    public static BackupJob FromManifest(Manifest manifest) => new(manifest.Id, manifest.Source, manifest.ObjectKey, manifest.StartedAt)
    {
        State = BackupState.Completed,
        FinishedAt = manifest.CompletedAt,
        Manifest = manifest,
        BytesDone = manifest.PlaintextBytes,
        KeyServiceUnavailable = manifest.Encryption.KeyServiceUnavailable,
    };

    public static BackupJob FromAttempt(FailedAttempt attempt) => new(attempt.Id, attempt.Source, "", attempt.StartedAt)
    {
        State = BackupState.Failed,
        FinishedAt = attempt.FailedAt,
        FailureReason = attempt.Reason,
    };
}

/// <summary>
/// The service's view of all backups: a cache rebuilt from the S3 manifests and attempt records (the source of truth)
/// on first use and by <see cref="ReloadAsync"/>, plus the backups this process is running.
/// </summary>
internal sealed class BackupCatalog(BackupRepository repository, ILogger<BackupCatalog> logger) : IDisposable
{
    private readonly ConcurrentDictionary<Guid, BackupJob> _jobs = new();
    private readonly SemaphoreSlim _loading = new(1, 1);
    private bool _loaded;

    public void Add(BackupJob job) => _jobs[job.Id] = job;

    public void Remove(Guid id) => _jobs.TryRemove(id, out _);

    public async Task<BackupJob?> GetAsync(Guid id, CancellationToken cancellationToken)
    {
        await EnsureLoadedAsync(cancellationToken);
        return _jobs.TryGetValue(id, out var job) ? job : null;
    }

    public async Task<IReadOnlyList<BackupJob>> ListAsync(string? source, CancellationToken cancellationToken)
    {
        await EnsureLoadedAsync(cancellationToken);
        return [.. _jobs.Values.Where(j => source is null || j.Source == source).OrderByDescending(j => j.StartedAt)];
    }

    /// <summary>Re-reads every manifest and attempt; backups running in this process are kept as they are.</summary>
    public async Task ReloadAsync(CancellationToken cancellationToken)
    {
        await _loading.WaitAsync(cancellationToken);
        try
        {
            var (manifests, rejected) = await repository.ListManifestsAsync(cancellationToken);
            if (rejected > 0) Log.RejectedRecords(logger, rejected);
            var attempts = await repository.ListAttemptsAsync(cancellationToken);
            var known = new HashSet<Guid>();
            foreach (var manifest in manifests)
            {
                known.Add(manifest.Id);
                _jobs.AddOrUpdate(manifest.Id, _ => BackupJob.FromManifest(manifest), (_, j) => j.State == BackupState.Running ? j : BackupJob.FromManifest(manifest));
            }
            foreach (var attempt in attempts.Where(a => !known.Contains(a.Id)))
            {
                known.Add(attempt.Id);
                _jobs.AddOrUpdate(attempt.Id, _ => BackupJob.FromAttempt(attempt), (_, j) => j.State == BackupState.Running ? j : BackupJob.FromAttempt(attempt));
            }
            foreach (var stale in _jobs.Values.Where(j => j.State != BackupState.Running && !known.Contains(j.Id)).ToList()) _jobs.TryRemove(stale.Id, out _);
            _loaded = true;
        }
        finally
        {
            _loading.Release();
        }
    }

    private async Task EnsureLoadedAsync(CancellationToken cancellationToken)
    {
        if (!_loaded) await ReloadAsync(cancellationToken);
    }

    public void Dispose() => _loading.Dispose();
}
