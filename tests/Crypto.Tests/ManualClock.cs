namespace Pii.Crypto.Tests;

/// <summary>A clock the test moves by hand, so DEK age and cache TTL can pass without sleeping.</summary>
internal sealed class ManualClock : TimeProvider
{
    private DateTimeOffset _now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public override DateTimeOffset GetUtcNow() => _now;

    public void Advance(TimeSpan by) => _now += by;
}
