using Cronos;
using Microsoft.Extensions.Options;
using Pii.BackupService.Backups;

namespace Pii.BackupService.Scheduling;

internal sealed record SourceSchedule(string Source, string Cron, DateTimeOffset? NextRun);

internal sealed record ScheduleView(bool Enabled, IReadOnlyList<SourceSchedule> Backups, string DrillCron, DateTimeOffset? NextDrill, RetentionOptions Retention);

/// <summary>The cron schedules (Cronos, UTC) of each source's backups and of the restore drills, parsed at start.</summary>
internal sealed class BackupSchedule
{
    private readonly BackupOptions _options;
    private readonly Dictionary<string, (string Text, CronExpression Cron)> _sources = new(StringComparer.Ordinal);

    public BackupSchedule(BackupSources sources, IOptions<BackupOptions> options)
    {
        _options = options.Value;
        foreach (var source in sources.All)
        {
            var text = _options.Schedules.GetValueOrDefault(source.Name) ?? _options.DefaultSchedule;
            _sources[source.Name] = (text, Parse(text, $"BackupService:Schedules:{source.Name}"));
        }
        Drill = Parse(_options.DrillSchedule, "BackupService:DrillSchedule");
    }

    public CronExpression Drill { get; }

    public IEnumerable<(string Source, CronExpression Cron)> Sources => _sources.Select(s => (s.Key, s.Value.Cron));

    public ScheduleView Describe(DateTimeOffset now) => new(
        _options.SchedulerEnabled,
        [.. _sources.Select(s => new SourceSchedule(s.Key, s.Value.Text, Next(s.Value.Cron, now)))],
        _options.DrillSchedule, Next(Drill, now), _options.Retention);

    public static DateTimeOffset? Next(CronExpression cron, DateTimeOffset after) => cron.GetNextOccurrence(after, TimeZoneInfo.Utc);

    private static CronExpression Parse(string text, string setting)
    {
        try
        {
            return CronExpression.Parse(text);
        }
        catch (CronFormatException)
        {
            throw new InvalidOperationException($"{setting} is not a valid cron expression: '{text}'.");
        }
    }
}
