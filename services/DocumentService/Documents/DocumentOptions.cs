namespace Pii.DocumentService.Documents;

/// <summary>Settings under <c>DocumentService:</c>; the defaults keep an upload at about 3 × 8 MiB of buffers.</summary>
internal sealed class DocumentOptions
{
    public string Bucket { get; set; } = "documents";
    public int PartSize { get; set; } = 8 * 1024 * 1024;
    public int MaxPartsInFlight { get; set; } = 2;
    public int FrameLength { get; set; } = 64 * 1024;
    public long MaxUploadBytes { get; set; } = 2L * 1024 * 1024 * 1024;
    /// <summary>
    /// Downloads served at once; more wait their turn before touching the database or S3, so a burst of clients neither
    /// exhausts the connection pool nor grows memory with the number of clients.
    /// </summary>
    public int MaxConcurrentReads { get; set; } = 16;
    public TimeSpan KeyCacheTimeToLive { get; set; } = TimeSpan.FromMinutes(5);
    public int KeyCacheCapacity { get; set; } = 10_000;

    /// <summary>Pending uploads and unreferenced objects older than this are removed by the sweeper.</summary>
    public TimeSpan OrphanMinAge { get; set; } = TimeSpan.FromHours(6);
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>Optional PEM (SubjectPublicKeyInfo) of an offline recovery RSA key: every document's data key is also wrapped for it.</summary>
    public string? RecoveryPublicKeyFile { get; set; }
    public string RecoveryKeyName { get; set; } = "documents-recovery";
}
