using Amazon.Runtime;
using Microsoft.Extensions.Options;
using Pii.BackupService.Backups;

namespace Pii.BackupService.Scheduling;

/// <summary>
/// Runs each source's backup when its cron schedule is due (then prunes by retention), and the restore drills: the
/// newest backup of each source restored into a scratch database, checked (hash, row counts), dropped; the outcome is
/// a metric and an audit event, and a failed drill is logged as an error like a failed backup.
/// </summary>
internal sealed class BackupScheduler(
    BackupSchedule schedule, BackupSources sources, BackupRunner runner, BackupCatalog catalog, RestoreRunner restores, RetentionPruner pruner,
    AuditTrail audit, BackupTelemetry telemetry, IOptions<BackupOptions> options, TimeProvider time, ILogger<BackupScheduler> logger) : BackgroundService
{
    private const string Actor = "scheduler";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Value.SchedulerEnabled) return;
        var now = time.GetUtcNow();
        var due = schedule.Sources.ToDictionary(s => s.Source, s => BackupSchedule.Next(s.Cron, now));
        var drill = BackupSchedule.Next(schedule.Drill, now);
        while (!stoppingToken.IsCancellationRequested)
        {
            var next = due.Values.Append(drill).Where(d => d is not null).Min() ?? now.AddDays(1);
            var wait = next - time.GetUtcNow();
            if (wait > TimeSpan.Zero) await Task.Delay(wait, time, stoppingToken);
            now = time.GetUtcNow();
            foreach (var (source, cron) in schedule.Sources)
            {
                if (due[source] is { } at && at <= now)
                {
                    await BackUpAsync(source, stoppingToken);
                    due[source] = BackupSchedule.Next(cron, now);
                }
            }
            if (drill is { } drillAt && drillAt <= now)
            {
                await DrillAllAsync(stoppingToken);
                drill = BackupSchedule.Next(schedule.Drill, now);
            }
        }
    }

    private async Task BackUpAsync(string name, CancellationToken cancellationToken)
    {
        var job = runner.Start(sources.Find(name)!, Actor);
        await job.Completion.WaitAsync(cancellationToken);
        try
        {
            await pruner.PruneAsync(Actor, cancellationToken);
        }
        catch (Exception e) when (e is AmazonServiceException or HttpRequestException or InvalidRecordException)
        {
            Log.BackgroundFailed(logger, "retention pruning", e.GetType().Name);
        }
    }

    /// <summary>Drills every source's newest backup the service can open; returns per source whether it passed.</summary>
    public async Task<Dictionary<string, bool>> DrillAllAsync(CancellationToken cancellationToken)
    {
        var outcomes = new Dictionary<string, bool>(StringComparer.Ordinal);
        foreach (var source in sources.All)
        {
            var newest = (await catalog.ListAsync(source.Name, cancellationToken))
                .FirstOrDefault(j => j.State == BackupState.Completed && j.Manifest is { Encryption.RecoveryKeyOnly: false });
            string? failure;
            if (newest?.Manifest is not { } manifest)
            {
                failure = "no backup the service can open";
            }
            else
            {
                try
                {
                    var result = await restores.RestoreAsync(manifest, inPlace: false, cancellationToken);
                    await restores.DropScratchAsync(source.Name, result.Database, cancellationToken);
                    failure = result.RowCountsMatch ? null : "row counts differ from the manifest";
                }
                catch (Exception e) when (e is BackupFailedException or RestoreRefusedException)
                {
                    failure = e.Message;
                }
                catch (Exception e) when (BackupRunner.Reason(e, cancellationToken) is { } reason && !cancellationToken.IsCancellationRequested)
                {
                    failure = reason;
                }
            }
            outcomes[source.Name] = failure is null;
            telemetry.Drills.Add(1, new("source", source.Name), new("outcome", failure is null ? "passed" : "failed"));
            if (failure is not null) Log.DrillFailed(logger, source.Name, failure);
            await audit.WriteAsync("drill", source.Name, newest?.Id, Actor, failure is null ? "passed" : "failed", failure);
        }
        return outcomes;
    }
}
