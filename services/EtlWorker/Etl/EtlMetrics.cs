using System.Diagnostics.Metrics;

namespace Pii.EtlWorker.Etl;

/// <summary>
/// The worker's instruments on the meter named after the application (ServiceDefaults exports that meter over OTLP):
/// rows read, loaded and quarantined, erasures applied, and the lag — now minus the updated_at of the oldest row not
/// yet processed (0 when caught up).
/// </summary>
public sealed class EtlMetrics
{
    public const string MeterName = "Pii.EtlWorker";

    private readonly Counter<long> _read;
    private readonly Counter<long> _loaded;
    private readonly Counter<long> _quarantined;
    private readonly Counter<long> _erased;
    private readonly TimeProvider _time;
    private long _oldestUnprocessedTicks; // 0: nothing unprocessed

    public EtlMetrics(IMeterFactory meters, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(meters);
        _time = time;
        var meter = meters.Create(MeterName);
        _read = meter.CreateCounter<long>("etl.rows.read", "{row}", "DNC rows read from MySQL");
        _loaded = meter.CreateCounter<long>("etl.rows.loaded", "{row}", "Rows decrypted and upserted into the suppression list");
        _quarantined = meter.CreateCounter<long>("etl.rows.quarantined", "{row}", "Rows that could not be decrypted or normalized");
        _erased = meter.CreateCounter<long>("etl.erasures.applied", "{row}", "Erasures removed from the suppression list");
        meter.CreateObservableGauge("etl.lag", () => LagSeconds, "s", "Now minus the updated_at of the oldest unprocessed row");
    }

    public double LagSeconds
    {
        get
        {
            var oldest = Interlocked.Read(ref _oldestUnprocessedTicks);
            return oldest == 0 ? 0 : Math.Max(0, (_time.GetUtcNow().UtcDateTime - new DateTime(oldest, DateTimeKind.Utc)).TotalSeconds);
        }
    }

    public void Read(int rows) => _read.Add(rows);

    public void Loaded(int rows) => _loaded.Add(rows);

    public void Quarantined(int rows) => _quarantined.Add(rows);

    public void Erased(int rows) => _erased.Add(rows);

    public void OldestUnprocessed(DateTime? updatedAt) => Interlocked.Exchange(ref _oldestUnprocessedTicks, updatedAt?.Ticks ?? 0);
}
