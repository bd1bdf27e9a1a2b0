using Pii.Kms.Storage;
using Pii.Kms.Transit;

namespace Pii.Kms.Tests;

/// <summary>Key ring domain logic: auto-rotation schedule, persistence across reopen, rotation racing encryption.</summary>
public sealed class KeyRingTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("keyring-").FullName;
    private readonly byte[] _master = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);

    private KmsStore OpenStore() => new(Path.Combine(_dir, "kms.db"), new MasterKeySealer(_master));

    private sealed class ManualTime(DateTimeOffset start) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = start;

        public override DateTimeOffset GetUtcNow() => Now;
    }

    [Fact]
    public void Auto_rotation_rotates_only_keys_whose_period_elapsed()
    {
        var time = new ManualTime(DateTimeOffset.UnixEpoch.AddYears(55));
        using var store = OpenStore();
        Assert.True(store.VerifyMasterKey());
        var ring = new KeyRing(store, time);
        ring.GetOrCreate("hourly", new KeyCreation(AutoRotatePeriodSeconds: 3600));
        ring.GetOrCreate("manual", new KeyCreation());

        time.Now += TimeSpan.FromMinutes(59);
        Assert.Empty(ring.RotateDueKeys());
        time.Now += TimeSpan.FromMinutes(1);
        Assert.Equal(["hourly"], ring.RotateDueKeys());
        Assert.Equal(2, ring.Find("hourly")!.LatestVersion);
        Assert.Equal(1, ring.Find("manual")!.LatestVersion);
        Assert.Empty(ring.RotateDueKeys());
    }

    [Fact]
    public void Keys_survive_reopen_and_a_wrong_master_key_cannot_open_them()
    {
        string ciphertext;
        using (var store = OpenStore())
        {
            store.VerifyMasterKey();
            var ring = new KeyRing(store, TimeProvider.System);
            var (policy, _) = ring.GetOrCreate("persisted", new KeyCreation());
            policy = ring.Rotate("persisted");
            ciphertext = TransitCrypto.Encrypt(policy, 0, "kept"u8, null, null, null).Ciphertext;
        }

        using (var store = OpenStore())
        {
            var ring = new KeyRing(store, TimeProvider.System);
            ring.Load();
            Assert.Equal("kept"u8.ToArray(), TransitCrypto.Decrypt(ring.Find("persisted")!, ciphertext, null, null).Plaintext);
        }

        using var wrong = new KmsStore(Path.Combine(_dir, "kms.db"), new MasterKeySealer(new byte[32]));
        Assert.False(wrong.VerifyMasterKey());
        var raw = File.ReadAllBytes(Path.Combine(_dir, "kms.db"));
        Assert.Equal(-1, raw.AsSpan().IndexOf("\"Key\""u8));
    }

    [Fact]
    public async Task Rotation_concurrent_with_encryption_never_fails()
    {
        // Counts, not a clock, decide when to stop: on a busy 2-core runner a fixed time window
        // may give the encryptors almost no turns. Rotation goes on for as long as any encryptor runs.
        const int OperationsPerEncryptor = 200;
        using var store = OpenStore();
        store.VerifyMasterKey();
        var ring = new KeyRing(store, TimeProvider.System);
        ring.GetOrCreate("busy", new KeyCreation());
        var encryptors = Enumerable.Range(0, 4).Select(_ => Task.Factory.StartNew(() =>
        {
            for (var i = 0; i < OperationsPerEncryptor; i++)
            {
                var policy = ring.Find("busy")!;
                var (ct, _) = TransitCrypto.Encrypt(policy, 0, "x"u8, null, null, null);
                Assert.Equal("x"u8.ToArray(), TransitCrypto.Decrypt(ring.Find("busy")!, ct, null, null).Plaintext);
            }
        }, TaskCreationOptions.LongRunning)).ToArray();
        var all = Task.WhenAll(encryptors);
        var rotations = 0;
        while (!all.IsCompleted || rotations < 5)
        {
            ring.Rotate("busy");
            rotations++;
        }

        await all;
        Assert.Equal(rotations + 1, ring.Find("busy")!.LatestVersion);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
