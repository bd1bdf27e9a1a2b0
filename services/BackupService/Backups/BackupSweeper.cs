using Amazon.Runtime;

namespace Pii.BackupService.Backups;

/// <summary>
/// Finishes what a crash (or a failed clean-up) left: at start and then every <see cref="Interval"/>, every
/// <c>running/</c> marker of a backup this process is not running gets its upload aborted, its object deleted unless a
/// manifest exists, a failed attempt recorded ("interrupted") and the marker removed; data objects that have neither a
/// manifest nor a running backup are deleted. Afterwards the catalog is rebuilt from S3.
/// </summary>
internal sealed class BackupSweeper(BackupRepository repository, BackupCatalog catalog, TimeProvider time, ILogger<BackupSweeper> logger) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromMinutes(10);

    private readonly TaskCompletionSource _firstSweep = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes after the start-up sweep (successful or not).</summary>
    public Task FirstSweep => _firstSweep.Task;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await SweepAsync(stoppingToken);
            }
            catch (Exception e) when (e is AmazonServiceException or HttpRequestException or InvalidRecordException)
            {
                Log.BackgroundFailed(logger, "backup sweep", e.GetType().Name);
            }
            _firstSweep.TrySetResult();
            await Task.Delay(Interval, time, stoppingToken);
        }
    }

    public async Task SweepAsync(CancellationToken cancellationToken)
    {
        // Asked per item, not once: a backup started during the sweep is in the catalog before its marker is written.
        async Task<bool> RunningAsync(Guid id) => (await catalog.GetAsync(id, cancellationToken))?.State == BackupState.Running;
        foreach (var marker in await repository.ListRunningAsync(cancellationToken))
        {
            if (await RunningAsync(marker.Id)) continue;
            var hasManifest = await repository.ExistsAsync(BackupRepository.ManifestKey(marker.Source, marker.Id), cancellationToken);
            if (!hasManifest)
            {
                await repository.AbortUploadAsync(marker.ObjectKey, marker.UploadId, cancellationToken);
                await repository.DeleteAsync(marker.ObjectKey, cancellationToken);
                await repository.PutAttemptAsync(new FailedAttempt(marker.Id, marker.Source, marker.StartedAt, time.GetUtcNow(),
                    "interrupted: the service stopped before the backup completed"), cancellationToken);
                Log.Swept(logger, marker.Id, marker.Source);
            }
            await repository.DeleteRunningAsync(marker.Id, cancellationToken);
        }

        var manifests = (await repository.ListKeysAsync("manifests/", cancellationToken)).Select(IdOf).ToHashSet();
        var markers = (await repository.ListKeysAsync("running/", cancellationToken)).Select(IdOf).ToHashSet();
        foreach (var key in await repository.ListKeysAsync("data/", cancellationToken))
        {
            var id = IdOf(key);
            if (id is { } known && !manifests.Contains(known) && !markers.Contains(known) && !await RunningAsync(known))
            {
                await repository.DeleteAsync(key, cancellationToken);
            }
        }
        await catalog.ReloadAsync(cancellationToken);
    }

    private static Guid? IdOf(string key) => Guid.TryParseExact(Path.GetFileNameWithoutExtension(key), "N", out var id) ? id : null;
}
