using System.Text;
using Pii.Crypto.Fields;
using Pii.Crypto.Keys;

namespace Pii.Crypto.Tests;

public sealed class DekManagerTests : IDisposable
{
    private static readonly string MasterV1 = Convert.ToHexString(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());
    private static readonly string MasterV2 = Convert.ToHexString(Enumerable.Range(99, 32).Select(i => (byte)i).ToArray());
    private static readonly FieldContext Cell = new("dnc_preferences", "email", "42");

    private readonly LocalKek _kek = LocalKek.FromText("dnc", "v1=" + MasterV1);
    private readonly InMemoryDekStore _store = new();
    private readonly ManualClock _clock = new();

    public void Dispose() => _kek.Dispose();

    [Fact]
    public async Task Kek_rotation_rewraps_stored_deks_and_old_ciphertext_still_decrypts_unchanged()
    {
        byte[] ciphertext;
        byte[] deterministic;
        using (var manager = new DekManager(_kek, _store))
        {
            ciphertext = (await manager.EncryptStringAsync("dnc", FieldMode.Randomized, "alice@example.com", Cell))!;
            deterministic = (await manager.EncryptStringAsync("dnc", FieldMode.Deterministic, "alice@example.com", Cell))!;
        }
        byte[] ciphertextBefore = (byte[])ciphertext.Clone();

        using LocalKek rotated = LocalKek.FromText("dnc", $"v1={MasterV1};v2={MasterV2}");
        using (var manager = new DekManager(rotated, _store))
        {
            Assert.Equal(1, await manager.RewrapAllAsync());
            Assert.Equal(0, await manager.RewrapAllAsync());
        }
        DekRecord record = Assert.Single(await _store.ListAsync());
        Assert.Equal(2, record.Wrapped.KekVersion);

        using LocalKek onlyV2 = LocalKek.FromText("dnc", "v2=" + MasterV2);
        using var afterRotation = new DekManager(onlyV2, _store);
        Assert.Equal("alice@example.com", await afterRotation.DecryptStringAsync(ciphertext, Cell));
        Assert.Equal("alice@example.com", await afterRotation.DecryptStringAsync(deterministic, Cell));
        Assert.Equal(ciphertextBefore, ciphertext);
    }

    [Fact]
    public async Task Active_dek_is_retired_by_age_and_retired_deks_still_decrypt()
    {
        using var manager = new DekManager(_kek, _store, new DekPolicy { MaxAge = TimeSpan.FromDays(30) }, _clock);
        byte[] first = (await manager.EncryptStringAsync("dnc", FieldMode.Randomized, "old", Cell))!;
        _clock.Advance(TimeSpan.FromDays(29));
        byte[] second = (await manager.EncryptStringAsync("dnc", FieldMode.Randomized, "still old key", Cell))!;
        _clock.Advance(TimeSpan.FromDays(1));
        byte[] third = (await manager.EncryptStringAsync("dnc", FieldMode.Randomized, "new key", Cell))!;

        Assert.Equal(0, FieldCipher.ReadHeader(first).DekId);
        Assert.Equal(0, FieldCipher.ReadHeader(second).DekId);
        Assert.Equal(1, FieldCipher.ReadHeader(third).DekId);
        IReadOnlyList<DekRecord> records = await _store.ListAsync();
        Assert.False(records[0].IsActive);
        Assert.True(records[1].IsActive);
        Assert.Equal("old", await manager.DecryptStringAsync(first, Cell));
        Assert.Equal("new key", await manager.DecryptStringAsync(third, Cell));
    }

    [Fact]
    public async Task Active_dek_is_retired_after_exactly_max_uses()
    {
        using var manager = new DekManager(_kek, _store, new DekPolicy { MaxUses = 10, UseReservation = 4 }, _clock);
        var ids = new List<int>();
        for (int i = 0; i < 25; i++)
        {
            ids.Add(FieldCipher.ReadHeader((await manager.EncryptStringAsync("dnc", FieldMode.Randomized, "x", Cell))!).DekId);
        }
        Assert.Equal(10, ids.Count(id => id == 0));
        Assert.Equal(10, ids.Count(id => id == 1));
        Assert.Equal(5, ids.Count(id => id == 2));
        Assert.All(await _store.ListAsync(), r => Assert.True(r.UseCount >= (r.Id < 2 ? 10 : 5)));
    }

    [Fact]
    public void Default_use_limit_is_far_below_the_gcm_random_nonce_bound() =>
        Assert.True(new DekPolicy().MaxUses <= 1L << 24);

    [Fact]
    public async Task A_batch_lease_counts_all_its_uses()
    {
        using var manager = new DekManager(_kek, _store, new DekPolicy { MaxUses = 100, UseReservation = 10 }, _clock);
        using (FieldKeyLease lease = await manager.LeaseEncryptionKeyAsync("dnc", 95))
        {
            Assert.Equal(0, lease.Key.DekId);
        }
        using FieldKeyLease next = await manager.LeaseEncryptionKeyAsync("dnc", 10);
        Assert.Equal(1, next.Key.DekId);
    }

    [Fact]
    public async Task One_active_dek_per_purpose_even_under_concurrency()
    {
        using var manager = new DekManager(_kek, _store);
        byte[]?[] results = await Task.WhenAll(Enumerable.Range(0, 200).Select(i =>
            manager.EncryptAsync(i % 2 == 0 ? "dnc" : "documents", FieldMode.Randomized, BitConverter.GetBytes(i), Cell)));
        IReadOnlyList<DekRecord> records = await _store.ListAsync();
        Assert.Equal(2, records.Count);
        Assert.Equal(["dnc", "documents"], records.Select(r => r.Purpose).Order());
        for (int i = 0; i < results.Length; i++)
        {
            Assert.Equal(BitConverter.GetBytes(i), await manager.DecryptAsync(results[i], Cell));
        }
    }

    [Fact]
    public async Task Cache_entries_expire_after_the_ttl_are_zeroed_and_unwrapped_again_on_demand()
    {
        using var manager = new DekManager(_kek, _store, new DekPolicy { CacheTimeToLive = TimeSpan.FromMinutes(10) }, _clock);
        byte[] ciphertext = (await manager.EncryptStringAsync("dnc", FieldMode.Randomized, "x", Cell))!;
        FieldKey cached;
        using (FieldKeyLease lease = await manager.LeaseKeyAsync(0))
        {
            cached = lease.Key;
        }
        Assert.False(cached.KeyMaterialIsZero());

        _clock.Advance(TimeSpan.FromMinutes(10));
        manager.EvictExpiredKeys();
        Assert.Equal(0, manager.CachedKeyCount);
        Assert.True(cached.KeyMaterialIsZero());

        Assert.Equal("x", await manager.DecryptStringAsync(ciphertext, Cell));
        Assert.Equal(1, manager.CachedKeyCount);
    }

    [Fact]
    public async Task Cache_is_bounded_and_evicts_the_least_recently_used_key_zeroing_it()
    {
        using var manager = new DekManager(_kek, _store, new DekPolicy { CacheCapacity = 2 }, _clock);
        await manager.EncryptStringAsync("a", FieldMode.Randomized, "x", Cell);
        FieldKey first;
        using (FieldKeyLease lease = await manager.LeaseKeyAsync(0))
        {
            first = lease.Key;
        }
        await manager.EncryptStringAsync("b", FieldMode.Randomized, "x", Cell);
        await manager.EncryptStringAsync("c", FieldMode.Randomized, "x", Cell);
        Assert.Equal(2, manager.CachedKeyCount);
        Assert.True(first.KeyMaterialIsZero());
    }

    [Fact]
    public async Task A_leased_key_is_not_zeroed_until_the_lease_ends()
    {
        using var manager = new DekManager(_kek, _store, new DekPolicy { CacheTimeToLive = TimeSpan.FromMinutes(1) }, _clock);
        FieldKeyLease lease = await manager.LeaseEncryptionKeyAsync("dnc");
        _clock.Advance(TimeSpan.FromMinutes(2));
        manager.EvictExpiredKeys();
        Assert.False(lease.Key.KeyMaterialIsZero());
        byte[] ciphertext = FieldCipher.EncryptString(lease.Key, FieldMode.Randomized, "in flight", Cell)!;
        FieldKey key = lease.Key;
        lease.Dispose();
        Assert.True(key.KeyMaterialIsZero());
        Assert.Equal("in flight", await manager.DecryptStringAsync(ciphertext, Cell));
    }

    [Fact]
    public async Task Unknown_dek_ids_are_typed_errors()
    {
        using var manager = new DekManager(_kek, _store);
        using FieldKey stranger = FieldKey.FromDek(77, Encoding.ASCII.GetBytes("0123456789abcdef0123456789abcdef"));
        byte[] foreign = FieldCipher.EncryptString(stranger, FieldMode.Randomized, "x", Cell)!;
        await Assert.ThrowsAsync<UnknownKeyException>(() => manager.DecryptAsync(foreign, Cell));
        Assert.Null(await manager.DecryptAsync(null, Cell));
    }
}
