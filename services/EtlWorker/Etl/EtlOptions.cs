namespace Pii.EtlWorker.Etl;

/// <summary>Tuning of the ETL loop (configuration section <c>Etl</c>).</summary>
public sealed class EtlOptions
{
    public const string Section = "Etl";

    /// <summary>Rows read, decrypted and committed per PostgreSQL transaction.</summary>
    public int BatchSize { get; set; } = 2000;

    /// <summary>Pause between passes once the worker has caught up.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Rows are read only once their timestamp is this far behind MySQL's clock. A transaction that set an earlier
    /// updated_at but commits after a later one would otherwise fall behind the watermark and be missed for good.
    /// Must exceed the longest write transaction of the FormApi.
    /// </summary>
    public TimeSpan SettleWindow { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>The key-service key whose HMAC makes the suppression list's blind indexes.</summary>
    public string IndexKeyName { get; set; } = "suppression-index";

    /// <summary>The transit key that wraps the DNC DEKs.</summary>
    public string KekName { get; set; } = "dnc";

    /// <summary>Key version of the <c>dnc</c> HMAC key behind the intake's blind indexes (FormApi's BlindIndexKeyVersion).</summary>
    public int IntakeIndexKeyVersion { get; set; } = 1;

    /// <summary>Unwrapped DEKs kept in memory (least recently used evicted and zeroed first).</summary>
    public int DekCacheCapacity { get; set; } = 256;

    public TimeSpan DekCacheTimeToLive { get; set; } = TimeSpan.FromMinutes(10);
}
