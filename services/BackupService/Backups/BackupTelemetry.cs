using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Pii.BackupService.Backups;

/// <summary>
/// Traces (ActivitySource "Pii.BackupService") and metrics (Meter "Pii.BackupService"): bytes and durations per source,
/// failures, last success age, drill results. Tags carry only source names and outcomes, never data.
/// </summary>
internal sealed class BackupTelemetry : IDisposable
{
    /// <summary>The application name: ServiceDefaults exports the source and meter named after it.</summary>
    public const string Name = "Pii.BackupService";
    public static readonly ActivitySource Activities = new(Name);

    private readonly Meter _meter = new(Name);
    private readonly ConcurrentDictionary<string, DateTimeOffset> _lastSuccess = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;

    public BackupTelemetry(TimeProvider time)
    {
        _time = time;
        DumpBytes = _meter.CreateCounter<long>("backup.dump.bytes", "By", "Dump bytes read from the dump tools");
        StoredBytes = _meter.CreateCounter<long>("backup.stored.bytes", "By", "Encrypted bytes uploaded");
        Duration = _meter.CreateHistogram<double>("backup.duration", "s", "Backup wall time");
        Outcomes = _meter.CreateCounter<long>("backup.runs", description: "Backups by source and outcome");
        Operations = _meter.CreateCounter<long>("backup.operations", description: "Verify, restore, prune and drill runs by outcome");
        Drills = _meter.CreateCounter<long>("backup.drills", description: "Restore drills by source and outcome (a failure is as loud as a failed backup)");
        _meter.CreateObservableGauge("backup.last_success.age", ObserveAges, "s", "Seconds since the last completed backup of each source");
    }

    public Counter<long> DumpBytes { get; }
    public Counter<long> StoredBytes { get; }
    public Histogram<double> Duration { get; }
    public Counter<long> Outcomes { get; }
    public Counter<long> Operations { get; }
    public Counter<long> Drills { get; }

    public void Succeeded(string source, DateTimeOffset at) =>
        _lastSuccess.AddOrUpdate(source, at, (_, known) => known > at ? known : at);

    private IEnumerable<Measurement<double>> ObserveAges()
    {
        var now = _time.GetUtcNow();
        foreach (var (source, at) in _lastSuccess)
        {
            yield return new Measurement<double>((now - at).TotalSeconds, new KeyValuePair<string, object?>("source", source));
        }
    }

    public void Dispose() => _meter.Dispose();
}
