namespace Pii.FormApi;

/// <summary>Which half of FormApi this process is (configuration <c>FormApi:Instance</c>, set by the AppHost).</summary>
internal enum FormApiInstance
{
    /// <summary>Public intake: the form and POST routes; may insert rows, never read them.</summary>
    Intake,

    /// <summary>Authenticated back office: reads, reveals, erasure, audit and key operations; runs the migrations.</summary>
    Backoffice,
}

/// <summary>The <c>FormApi</c> configuration section.</summary>
internal sealed class FormApiOptions
{
    public const string Section = "FormApi";

    public FormApiInstance Instance { get; set; } = FormApiInstance.Intake;

    /// <summary>Largest accepted JSON body of a submission or patch, in bytes.</summary>
    public int MaxBodyBytes { get; set; } = 8 * 1024;

    /// <summary>Token bucket per client IP for the public submission routes.</summary>
    public int RateLimitBurst { get; set; } = 30;

    public int RateLimitPerSecond { get; set; } = 10;

    /// <summary>Token bucket for all clients together on the submission routes (many addresses cannot add up past it).</summary>
    public int GlobalRateLimitBurst { get; set; } = 200;

    public int GlobalRateLimitPerSecond { get; set; } = 100;

    /// <summary>Submissions in progress at once, all clients together; more are refused with 429.</summary>
    public int MaxConcurrentSubmissions { get; set; } = 64;

    /// <summary>Proxies (IP addresses) whose X-Forwarded-For names the client; nobody else's is believed.</summary>
    public string[] TrustedProxies { get; set; } = [];

    /// <summary>Networks (CIDR, e.g. 10.0.0.0/8) of trusted proxies, as <see cref="TrustedProxies"/>.</summary>
    public string[] TrustedNetworks { get; set; } = [];

    /// <summary>Rows per transaction of the DEK re-encryption job.</summary>
    public int ReencryptionBatchSize { get; set; } = 2000;

    /// <summary>Batches of the re-encryption job written at once (each on its own connection and transaction).</summary>
    public int ReencryptionWriters { get; set; } = 2;

    /// <summary>Whether the back office runs re-encryption jobs in the background (tests turn it off to step a job by hand).</summary>
    public bool ReencryptionInBackground { get; set; } = true;

    /// <summary>Key version of the <c>dnc</c> transit key whose HMAC key derives the blind-index root key (never changes with rotation).</summary>
    public int BlindIndexKeyVersion { get; set; } = 1;

    /// <summary>
    /// Benchmark only: maps <c>POST /api/bench/plaintext-dnc</c>, which stores the same fields unencrypted in a separate
    /// table, as the peer of the encrypted intake. Never set outside bench/formapi.
    /// </summary>
    public bool BenchPlaintextPeer { get; set; }
}
