using System.Text;
using BenchmarkDotNet.Attributes;
using Pii.Crypto.Fields;
using Pii.Crypto.Fpe;

namespace Pii.Bench;

/// <summary>
/// FF1 (AES-256) on a 9-digit SSN: the raw numeral call, the SSN profile on the dashed text (alphabet mapping, tweak,
/// string building), and its decryption; the peer measured in the same run is the deterministic field cipher
/// (AES-SIV-512 + header + cell context) on the same 9 bytes. Target: FF1 ≤ 5 µs per SSN on one core. Run:
/// <c>dotnet run -c Release --project bench/Pii.Bench -- --filter '*FpeCpuTimeBenchmarks*'</c>
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class FpeBenchmarks
{
    private static readonly FieldContext Cell = new("patients", "ssn", "1234567");

    private readonly ushort[] _ssnNumerals = [0, 7, 8, 0, 5, 1, 1, 2, 0];
    private readonly ushort[] _numeralOutput = new ushort[9];
    private readonly byte[] _tweak = FpeProfile.Tweak("patients", "ssn");
    private readonly byte[] _ssnBytes = Encoding.ASCII.GetBytes("078051120");
    private readonly byte[] _fieldOutput = new byte[128];
    private Ff1 _ff1 = null!;
    private FieldKey _fieldKey = null!;
    private string _token = null!;

    [GlobalSetup]
    public void Setup()
    {
        _ff1 = new Ff1(Enumerable.Range(0, 32).Select(i => (byte)(i * 11)).ToArray());
        _fieldKey = FieldKey.FromDek(42, Enumerable.Range(0, 32).Select(i => (byte)(255 - i)).ToArray());
        _token = FpeProfile.Ssn.Encrypt(_ff1, "078-05-1120", "patients", "ssn");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _ff1.Dispose();
        _fieldKey.Dispose();
    }

    [Benchmark(Baseline = true)]
    public int FieldDeterministicSsn() => FieldCipher.Encrypt(_fieldKey, FieldMode.Deterministic, _ssnBytes, Cell, _fieldOutput);

    [Benchmark]
    public ushort Ff1EncryptSsnNumerals()
    {
        _ff1.Encrypt(10, _ssnNumerals, _tweak, _numeralOutput);
        return _numeralOutput[0];
    }

    [Benchmark]
    public string Ff1EncryptSsnProfile() => FpeProfile.Ssn.Encrypt(_ff1, "078-05-1120", "patients", "ssn");

    [Benchmark]
    public string Ff1DecryptSsnProfile() => FpeProfile.Ssn.Decrypt(_ff1, _token, "patients", "ssn");
}

/// <summary>The same benchmarks timed in process CPU time (see <see cref="ProcessCpuTimeClock"/>), for per-core figures on a busy machine.</summary>
[CpuTimeNineRunJob]
public class FpeCpuTimeBenchmarks : FpeBenchmarks;
