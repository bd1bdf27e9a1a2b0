namespace Pii.BackupService.Backups;

/// <summary>Settings under <c>BackupService:</c> (appsettings or environment); defaults suit the AppHost.</summary>
internal sealed class BackupOptions
{
    public string Bucket { get; set; } = "backups";

    /// <summary>S3 part size; memory of one backup is about (MaxPartsInFlight + 1) × PartSize plus zstd's window.</summary>
    public int PartSize { get; set; } = 8 * 1024 * 1024;
    public int MaxPartsInFlight { get; set; } = 2;

    /// <summary>Plaintext (compressed) bytes per ESDK frame.</summary>
    public int FrameLength { get; set; } = 256 * 1024;

    /// <summary>zstd level (1 … 19) and worker threads (0 = on the pipeline's thread, 1 or more = beside it).</summary>
    public int CompressionLevel { get; set; } = 3;
    public int CompressionThreads { get; set; } = 1;

    /// <summary>Directory of pg_dump / pg_restore / psql (Debian's PostgreSQL 15 by default).</summary>
    public string PostgresBinDirectory { get; set; } = "/usr/lib/postgresql/15/bin";

    /// <summary>Directory of mariadb-dump and mariadb.</summary>
    public string MariaDbBinDirectory { get; set; } = "/usr/bin";

    /// <summary>PEM (SubjectPublicKeyInfo) of the offline recovery RSA key; every backup's data key is wrapped for it.</summary>
    public string? RecoveryPublicKeyFile { get; set; }
    public string RecoveryKeyName { get; set; } = "backups-recovery";

    /// <summary>
    /// 32 bytes (base64) or a file holding them: authenticates manifests, failure records and the erasure ledger, and
    /// keys the plaintext hash. A service secret like DocumentService's application key; never in the repository.
    /// </summary>
    public string? ManifestKey { get; set; }
    public string? ManifestKeyFile { get; set; }

    /// <summary>Backups running at once (each holds one dump process and its buffers).</summary>
    public int MaxConcurrentBackups { get; set; } = 1;

    /// <summary>How often erasures are copied from the live databases into the ledger.</summary>
    public TimeSpan ErasureHarvestInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Cron schedules (Cronos, UTC, 5 fields) per source; a source without one is backed up daily at 02:00.</summary>
    public Dictionary<string, string> Schedules { get; set; } = [];
    public string DefaultSchedule { get; set; } = "0 2 * * *";

    /// <summary>Restore drills: every source's newest backup restored into a scratch database and checked.</summary>
    public string DrillSchedule { get; set; } = "0 4 * * 0";

    public RetentionOptions Retention { get; set; } = new();

    /// <summary>Whether the scheduler runs (tests drive backups through the API and switch it off).</summary>
    public bool SchedulerEnabled { get; set; } = true;
}

/// <summary>Grandfather-father-son retention: the newest backup of each of the last N days, weeks, months and years.</summary>
internal sealed class RetentionOptions
{
    public int Daily { get; set; } = 7;
    public int Weekly { get; set; } = 5;
    public int Monthly { get; set; } = 12;
    public int Yearly { get; set; } = 7;

    /// <summary>Failed-attempt records and completed backups younger than this are never pruned.</summary>
    public TimeSpan MinAge { get; set; } = TimeSpan.FromHours(1);
}
