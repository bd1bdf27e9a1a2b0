using System.Text;
using BenchmarkDotNet.Attributes;
using Pii.Crypto.BlindIndexing;
using Pii.Crypto.Fields;
using Pii.Crypto.KeyWrap;
using Pii.Crypto.Keys;

namespace Pii.Bench;

/// <summary>
/// Issue 2's field-crypto figures: 50-byte field encrypt/decrypt in both modes, an email blind index, an AES-KW unwrap
/// of a 32-byte DEK, a DEK cache hit, and a 10,000-field batch. Run:
/// <c>dotnet run -c Release --project bench/Pii.Bench -- --filter '*FieldBenchmarks*' --job short</c>
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class FieldBenchmarks
{
    private const int BatchSize = 10_000;
    private static readonly FieldContext Cell = new("dnc_preferences", "email", "1234567");

    private readonly byte[] _plaintext = Encoding.ASCII.GetBytes("alice.example-person@some-provider.example.com.au!");
    private readonly byte[] _kek = Enumerable.Range(0, 32).Select(i => (byte)(i * 3)).ToArray();
    private FieldKey _key = null!;
    private BlindIndex _emailIndex = null!;
    private byte[] _randomizedCiphertext = null!;
    private byte[] _deterministicCiphertext = null!;
    private byte[] _wrappedDek = null!;
    private byte[] _output = null!;
    private byte[] _batchOutput = null!;
    private LocalKek _localKek = null!;
    private DekManager _manager = null!;

    [GlobalSetup]
    public void Setup()
    {
        byte[] dek = Enumerable.Range(0, 32).Select(i => (byte)(255 - i)).ToArray();
        _key = FieldKey.FromDek(42, dek);
        _emailIndex = new BlindIndex(_kek, "dnc_preferences", "email", BlindIndexKind.Email);
        _randomizedCiphertext = FieldCipher.Encrypt(_key, FieldMode.Randomized, _plaintext, Cell)!;
        _deterministicCiphertext = FieldCipher.Encrypt(_key, FieldMode.Deterministic, _plaintext, Cell)!;
        _wrappedDek = AesKeyWrap.Wrap(_kek, dek);
        _output = new byte[_plaintext.Length + 64];
        _batchOutput = new byte[BatchSize * FieldCipher.GetCiphertextLength(FieldMode.Randomized, _key.DekId, _plaintext.Length)];
        _localKek = LocalKek.FromText("bench", Convert.ToHexString(_kek));
        _manager = new DekManager(_localKek, new InMemoryDekStore());
        _manager.EncryptAsync("bench", FieldMode.Randomized, _plaintext, Cell).GetAwaiter().GetResult();
        if (_plaintext.Length != 50)
        {
            throw new InvalidOperationException("The benchmark field must be 50 bytes.");
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _manager.Dispose();
        _localKek.Dispose();
        _emailIndex.Dispose();
        _key.Dispose();
    }

    [Benchmark]
    public int EncryptRandomized50() => FieldCipher.Encrypt(_key, FieldMode.Randomized, _plaintext, Cell, _output);

    [Benchmark]
    public int DecryptRandomized50() => FieldCipher.Decrypt(_key, _randomizedCiphertext, Cell, _output);

    [Benchmark]
    public int EncryptDeterministic50() => FieldCipher.Encrypt(_key, FieldMode.Deterministic, _plaintext, Cell, _output);

    [Benchmark]
    public int DecryptDeterministic50() => FieldCipher.Decrypt(_key, _deterministicCiphertext, Cell, _output);

    [Benchmark]
    public byte BlindIndexEmail()
    {
        Span<byte> index = stackalloc byte[BlindIndex.DefaultLength];
        _emailIndex.Compute("  Alice.Example-Person@Some-Provider.example.COM ", index);
        return index[0];
    }

    [Benchmark]
    public byte[] AesKwUnwrapDek() => AesKeyWrap.Unwrap(_kek, _wrappedDek);

    [Benchmark]
    public async ValueTask<int> DekCacheHit()
    {
        using FieldKeyLease lease = await _manager.LeaseKeyAsync(0);
        return lease.Key.DekId;
    }

    /// <summary>10,000 randomized 50-byte fields under one leased DEK (how a bulk load or ETL page runs).</summary>
    [Benchmark]
    public async ValueTask<int> Batch10000RandomizedEncrypt()
    {
        using FieldKeyLease lease = await _manager.LeaseEncryptionKeyAsync("bench", BatchSize);
        return EncryptBatch(lease.Key);
    }

    private int EncryptBatch(FieldKey key)
    {
        int offset = 0;
        for (int i = 0; i < BatchSize; i++)
        {
            offset += FieldCipher.Encrypt(key, FieldMode.Randomized, _plaintext, Cell, _batchOutput.AsSpan(offset));
        }
        return offset;
    }
}

/// <summary>
/// The same benchmarks timed in process CPU time (see <see cref="ProcessCpuTimeClock"/>), for figures that hold on a
/// busy shared machine. Run: <c>dotnet run -c Release --project bench/Pii.Bench -- --filter '*FieldCpuTimeBenchmarks*'</c>
/// </summary>
[CpuTimeShortRunJob]
public class FieldCpuTimeBenchmarks : FieldBenchmarks;
