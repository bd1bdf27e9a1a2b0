using Pii.Crypto.Fields;
using Pii.Crypto.Keys;

namespace Pii.Crypto.Tests;

/// <summary><see cref="DekManager.RotateIfCreatedBeforeAsync"/>: the age policy as a scheduled run calls it.</summary>
public sealed class DekScheduledRotationTests : IDisposable
{
    private static readonly FieldContext Cell = new("patients", "full_name", "7");
    private readonly LocalKek _kek = LocalKek.FromText("documents", "v1=" + Convert.ToHexString(new byte[32]));
    private readonly InMemoryDekStore _store = new();
    private readonly ManualClock _clock = new();

    public void Dispose() => _kek.Dispose();

    [Fact]
    public async Task Only_a_DEK_created_at_or_before_the_cutoff_is_replaced_and_the_next_write_uses_the_new_one()
    {
        // A long MaxAge: the lazy policy alone would keep the DEK; only the scheduled call replaces it.
        using var manager = new DekManager(_kek, _store, new DekPolicy { MaxAge = TimeSpan.FromDays(365) }, _clock);
        byte[] before = (await manager.EncryptStringAsync("patients", FieldMode.Randomized, "Ada", Cell))!;
        DekRecord original = Assert.Single(await _store.ListAsync());

        Assert.Null(await manager.RotateIfCreatedBeforeAsync("patients", original.CreatedAt - TimeSpan.FromTicks(1)));
        Assert.Null(await manager.RotateIfCreatedBeforeAsync("nothing-active", _clock.GetUtcNow()));
        Assert.Single(await _store.ListAsync());

        _clock.Advance(TimeSpan.FromDays(31));
        DekRecord replacement = (await manager.RotateIfCreatedBeforeAsync("patients", _clock.GetUtcNow() - TimeSpan.FromDays(30)))!;
        Assert.NotEqual(original.Id, replacement.Id);
        Assert.Equal(_clock.GetUtcNow(), replacement.CreatedAt);
        Assert.False((await _store.GetAsync(original.Id))!.IsActive);
        Assert.Equal(replacement.Id, (await _store.GetActiveAsync("patients"))!.Id);

        // A second run in the same period finds the young replacement and leaves it.
        Assert.Null(await manager.RotateIfCreatedBeforeAsync("patients", _clock.GetUtcNow() - TimeSpan.FromDays(30)));

        byte[] after = (await manager.EncryptStringAsync("patients", FieldMode.Randomized, "Grace", Cell))!;
        Assert.Equal(replacement.Id, FieldCipher.ReadHeader(after).DekId);
        Assert.Equal("Ada", await manager.DecryptStringAsync(before, Cell));
    }
}
