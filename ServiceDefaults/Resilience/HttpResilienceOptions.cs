namespace Pii.ServiceDefaults.Resilience;

/// <summary>
/// Outgoing-HTTP resilience, bound from configuration section <c>HttpResilience</c>. Defaults follow
/// Microsoft.Extensions.Http.Resilience's standard handler (ASPIRE-CONVENTIONS.md §2.4).
/// </summary>
public sealed class HttpResilienceOptions
{
    public TimeSpan TotalRequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(10);

    public int MaxRetryAttempts { get; set; } = 3;

    /// <summary>First back-off delay; later ones grow exponentially, with jitter.</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>A server's Retry-After is honoured up to this long; beyond it the retry is not worth waiting for.</summary>
    public TimeSpan MaxRetryAfter { get; set; } = TimeSpan.FromSeconds(30);
}
