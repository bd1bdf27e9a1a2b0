using System.Globalization;
using Microsoft.Extensions.Options;
using Pii.BackupService.Backups;

namespace Pii.BackupService.Scheduling;

internal sealed record PruneResult(IReadOnlyList<Guid> Removed, int Kept);

/// <summary>
/// Grandfather-father-son retention per source: the newest completed backup of each of the last <c>Daily</c> days,
/// <c>Weekly</c> ISO weeks, <c>Monthly</c> months and <c>Yearly</c> years (UTC, counted back from now) is kept. Whatever
/// the policy says, a backup is also kept when it is younger than <c>MinAge</c>, under a legal hold, the newest backup
/// of its source, or the newest verified one.
/// </summary>
internal static class RetentionPolicy
{
    public static HashSet<Guid> Keep(IReadOnlyList<Manifest> backups, DateTimeOffset now, RetentionOptions options)
    {
        var keep = new HashSet<Guid>();
        foreach (var source in backups.GroupBy(b => b.Source))
        {
            var newestFirst = source.OrderByDescending(b => b.CompletedAt).ToList();
            keep.Add(newestFirst[0].Id);
            if (newestFirst.FirstOrDefault(b => b.Verified == true) is { } verified) keep.Add(verified.Id);
            foreach (var b in newestFirst.Where(b => b.LegalHold is not null || now - b.CompletedAt < options.MinAge)) keep.Add(b.Id);
            KeepNewestPerPeriod(newestFirst, keep, options.Daily, b => b.CompletedAt.UtcDateTime.Date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
                now.UtcDateTime.Date.AddDays(-(options.Daily - 1)));
            KeepNewestPerPeriod(newestFirst, keep, options.Weekly, b => $"{ISOWeek.GetYear(b.CompletedAt.UtcDateTime)}-W{ISOWeek.GetWeekOfYear(b.CompletedAt.UtcDateTime)}",
                now.UtcDateTime.Date.AddDays(-7 * options.Weekly));
            KeepNewestPerPeriod(newestFirst, keep, options.Monthly, b => b.CompletedAt.UtcDateTime.ToString("yyyy-MM", CultureInfo.InvariantCulture),
                new DateTime(now.Year, now.Month, 1, 0, 0, 0, DateTimeKind.Utc).AddMonths(-(options.Monthly - 1)));
            KeepNewestPerPeriod(newestFirst, keep, options.Yearly, b => b.CompletedAt.UtcDateTime.Year.ToString(CultureInfo.InvariantCulture),
                new DateTime(now.Year - (options.Yearly - 1), 1, 1, 0, 0, 0, DateTimeKind.Utc));
        }
        return keep;
    }

    /// <summary>Keeps the newest backup of each period from <paramref name="since"/> on, at most <paramref name="count"/> periods.</summary>
    private static void KeepNewestPerPeriod(List<Manifest> newestFirst, HashSet<Guid> keep, int count, Func<Manifest, string> period, DateTime since)
    {
        if (count <= 0) return;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var backup in newestFirst.Where(b => b.CompletedAt.UtcDateTime >= since))
        {
            if (seen.Count == count && !seen.Contains(period(backup))) break;
            if (seen.Add(period(backup))) keep.Add(backup.Id);
        }
    }
}

/// <summary>Deletes what <see cref="RetentionPolicy"/> does not keep: the manifest first (then it no longer counts), then the object.</summary>
internal sealed class RetentionPruner(BackupRepository repository, BackupCatalog catalog, AuditTrail audit, BackupTelemetry telemetry,
    IOptions<BackupOptions> options, TimeProvider time)
{
    public async Task<PruneResult> PruneAsync(string actor, CancellationToken cancellationToken)
    {
        var (manifests, _) = await repository.ListManifestsAsync(cancellationToken);
        var keep = RetentionPolicy.Keep(manifests, time.GetUtcNow(), options.Value.Retention);
        var removed = new List<Guid>();
        foreach (var manifest in manifests.Where(m => !keep.Contains(m.Id)))
        {
            await repository.DeleteAsync(BackupRepository.ManifestKey(manifest.Source, manifest.Id), cancellationToken);
            await repository.DeleteAsync(manifest.ObjectKey, cancellationToken);
            removed.Add(manifest.Id);
            await audit.WriteAsync("prune", manifest.Source, manifest.Id, actor, "removed");
        }
        telemetry.Operations.Add(1, new("operation", "prune"), new("outcome", "ok"));
        await catalog.ReloadAsync(cancellationToken);
        return new PruneResult(removed, manifests.Count - removed.Count);
    }
}
