namespace Pii.Crypto.Keys;

/// <summary>When an active DEK is replaced, and how unwrapped DEKs are cached.</summary>
public sealed record DekPolicy
{
    /// <summary>An active DEK older than this is retired and replaced.</summary>
    public TimeSpan MaxAge { get; init; } = TimeSpan.FromDays(30);

    /// <summary>
    /// Encryptions per DEK before it is replaced. AES-GCM with random 96-bit nonces must stay far below 2^32
    /// messages per key (NIST SP 800-38D §8.3); 2^24 keeps the nonce-collision probability below 2^-49.
    /// </summary>
    public long MaxUses { get; init; } = 1L << 24;

    /// <summary>Uses reserved in the store per round trip; reserved uses count even if this process never spends them.</summary>
    public int UseReservation { get; init; } = 1024;

    /// <summary>Unwrapped DEKs held in memory at most; the least recently used is evicted (and zeroed) first.</summary>
    public int CacheCapacity { get; init; } = 1024;

    /// <summary>How long an unwrapped DEK stays cached after it was unwrapped; then it is zeroed and unwrapped again on demand.</summary>
    public TimeSpan CacheTimeToLive { get; init; } = TimeSpan.FromMinutes(10);
}
