using System.Security.Cryptography;
using System.Text.Json;
using Pii.Crypto.Fpe;

namespace Pii.Crypto.Tests.Fpe;

public class Ff1Tests
{
    private const string Key128 = "2B7E151628AED2A6ABF7158809CF4F3C";
    private const string Key192 = "2B7E151628AED2A6ABF7158809CF4F3CEF4359D8D580AA4F";
    private const string Key256 = "2B7E151628AED2A6ABF7158809CF4F3CEF4359D8D580AA4F7F036D6F04FC6A94";
    private const string Tweak10 = "39383736353433323130";
    private const string Tweak11 = "3737373770717273373737";

    /// <summary>
    /// NIST's FF1 samples 1-9 (CSRC, "Cryptographic Standards and Guidelines: Examples with Intermediate Values",
    /// FF1samples.pdf): AES-128, AES-192 and AES-256, radix 10 and 36, with and without a tweak.
    /// </summary>
    public static TheoryData<int, string, int, string, string, string> NistSamples() => new()
    {
        { 1, Key128, 10, "", "0123456789", "2433477484" },
        { 2, Key128, 10, Tweak10, "0123456789", "6124200773" },
        { 3, Key128, 36, Tweak11, "0123456789abcdefghi", "a9tv40mll9kdu509eum" },
        { 4, Key192, 10, "", "0123456789", "2830668132" },
        { 5, Key192, 10, Tweak10, "0123456789", "2496655549" },
        { 6, Key192, 36, Tweak11, "0123456789abcdefghi", "xbj3kv35jrawxv32ysr" },
        { 7, Key256, 10, "", "0123456789", "6657667009" },
        { 8, Key256, 10, Tweak10, "0123456789", "1001623463" },
        { 9, Key256, 36, Tweak11, "0123456789abcdefghi", "xs8a0azh2avyalyzuwd" },
    };

    [Theory]
    [MemberData(nameof(NistSamples))]
    public void Nist_samples_encrypt_and_decrypt(int sample, string key, int radix, string tweak, string plaintext, string ciphertext)
    {
        using var ff1 = new Ff1(Convert.FromHexString(key));
        FpeAlphabet alphabet = FpeAlphabet.Base36(radix);
        byte[] tweakBytes = Convert.FromHexString(tweak);
        Assert.True(sample is >= 1 and <= 9);
        Assert.Equal(ciphertext, FpeText.Encrypt(ff1, alphabet, plaintext, tweakBytes));
        Assert.Equal(plaintext, FpeText.Decrypt(ff1, alphabet, ciphertext, tweakBytes));
    }

    public static TheoryData<int> PythonVectorIndexes()
    {
        var data = new TheoryData<int>();
        for (int i = 0; i < Ff1Vectors.Count; i++)
        {
            data.Add(i);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(PythonVectorIndexes))]
    public void Matches_the_independent_python_ff1(int index)
    {
        JsonElement vector = Ff1Vectors.Get(index);
        using var ff1 = new Ff1(Convert.FromHexString(vector.GetProperty("key").GetString()!));
        int radix = vector.GetProperty("radix").GetInt32();
        byte[] tweak = Convert.FromHexString(vector.GetProperty("tweak").GetString()!);
        ushort[] plaintext = [.. vector.GetProperty("plaintext").EnumerateArray().Select(e => (ushort)e.GetInt32())];
        ushort[] expected = [.. vector.GetProperty("ciphertext").EnumerateArray().Select(e => (ushort)e.GetInt32())];

        ushort[] output = new ushort[plaintext.Length];
        ff1.Encrypt(radix, plaintext, tweak, output);
        Assert.Equal(expected, output);
        ushort[] back = new ushort[plaintext.Length];
        ff1.Decrypt(radix, output, tweak, back);
        Assert.Equal(plaintext, back);
    }

    [Fact]
    public void The_python_vectors_cover_both_arithmetic_paths_and_every_key_size()
    {
        var vectors = Enumerable.Range(0, Ff1Vectors.Count).Select(Ff1Vectors.Get).ToList();
        Assert.Contains(vectors, v => v.GetProperty("radix").GetInt32() == 65536);
        Assert.Contains(vectors, v => v.GetProperty("plaintext").GetArrayLength() == 129 && v.GetProperty("radix").GetInt32() == 65535);
        Assert.Contains(vectors, v => v.GetProperty("tweak").GetString()!.Length == 90);
        Assert.Equal([32, 48, 64], vectors.Select(v => v.GetProperty("key").GetString()!.Length).Distinct().Order());
    }

    [Theory]
    [InlineData(2, 20)]
    [InlineData(10, 6)]
    [InlineData(16, 5)]
    [InlineData(36, 4)]
    [InlineData(100, 3)]
    [InlineData(1000, 2)]
    [InlineData(65536, 2)]
    public void Minimum_length_is_the_least_n_with_radix_to_the_n_at_least_a_million(int radix, int expected)
    {
        Assert.Equal(expected, Ff1.MinLength(radix));
    }

    [Fact]
    public void Out_of_bounds_inputs_are_rejected()
    {
        using var ff1 = new Ff1(new byte[32]);
        ushort[] six = [1, 2, 3, 4, 5, 6];
        Assert.Throws<MalformedInputException>(() => ff1.Encrypt(1, six, [], new ushort[6]));
        Assert.Throws<MalformedInputException>(() => ff1.Encrypt(65537, six, [], new ushort[6]));
        Assert.Throws<MalformedInputException>(() => ff1.Encrypt(10, six.AsSpan(0, 5), [], new ushort[5]));
        Assert.Throws<MalformedInputException>(() => ff1.Encrypt(10, new ushort[Ff1.MaxLength + 1], [], new ushort[Ff1.MaxLength + 1]));
        Assert.Throws<MalformedInputException>(() => ff1.Encrypt(6, six, [], new ushort[6]));
        Assert.Throws<MalformedInputException>(() => ff1.Encrypt(10, six, new byte[Ff1.MaxTweakLength + 1], new ushort[6]));
        Assert.Throws<ArgumentException>(() => ff1.Encrypt(10, six, [], new ushort[5]));
        Assert.Throws<ArgumentException>(() => new Ff1(new byte[20]));

        var e = Assert.Throws<MalformedInputException>(() => FpeText.Encrypt(ff1, FpeAlphabet.Digits, "12345a", []));
        Assert.DoesNotContain("12345", e.Message, StringComparison.Ordinal);
        ushort[] longest = new ushort[Ff1.MaxLength];
        ff1.Encrypt(10, longest, new byte[Ff1.MaxTweakLength], new ushort[Ff1.MaxLength]);
    }

    [Theory]
    [InlineData(2, 20)]
    [InlineData(10, 9)]
    [InlineData(10, 38)]
    [InlineData(256, 8)]
    [InlineData(65536, 4)]
    [InlineData(65536, 5)]
    [InlineData(36, 300)]
    public void Random_inputs_round_trip_and_stay_in_the_radix(int radix, int length)
    {
        using var ff1 = new Ff1(RandomNumberGenerator.GetBytes(32));
        for (int run = 0; run < 20; run++)
        {
            ushort[] input = [.. Enumerable.Range(0, length).Select(_ => (ushort)RandomNumberGenerator.GetInt32(radix))];
            byte[] tweak = RandomNumberGenerator.GetBytes(RandomNumberGenerator.GetInt32(40));
            ushort[] output = new ushort[length];
            ff1.Encrypt(radix, input, tweak, output);
            Assert.All(output, numeral => Assert.True(numeral < radix));
            ushort[] back = new ushort[length];
            ff1.Decrypt(radix, output, tweak, back);
            Assert.Equal(input, back);
        }
    }

    [Fact]
    public void The_tweak_and_the_key_change_the_output()
    {
        using var ff1 = new Ff1(Convert.FromHexString(Key256));
        using var other = new Ff1(RandomNumberGenerator.GetBytes(32));
        string a = FpeText.Encrypt(ff1, FpeAlphabet.Digits, "123456789", "t1"u8);
        Assert.NotEqual(a, FpeText.Encrypt(ff1, FpeAlphabet.Digits, "123456789", "t2"u8));
        Assert.NotEqual(a, FpeText.Encrypt(other, FpeAlphabet.Digits, "123456789", "t1"u8));
        Assert.NotEqual("123456789", FpeText.Decrypt(ff1, FpeAlphabet.Digits, a, "t2"u8));
    }

    [Fact]
    public void One_key_serves_concurrent_callers()
    {
        using var ff1 = new Ff1(Convert.FromHexString(Key256));
        string expected = FpeText.Encrypt(ff1, FpeAlphabet.Digits, "0123456789", Convert.FromHexString(Tweak10));
        Assert.Equal("1001623463", expected);
        Parallel.For(0, 2000, _ => Assert.Equal(expected, FpeText.Encrypt(ff1, FpeAlphabet.Digits, "0123456789", Convert.FromHexString(Tweak10))));
    }

    [Fact]
    public void A_disposed_key_refuses_work()
    {
        var ff1 = new Ff1(new byte[32]);
        ff1.Dispose();
        Assert.Throws<ObjectDisposedException>(() => FpeText.Encrypt(ff1, FpeAlphabet.Digits, "123456789", []));
    }

    [Fact]
    public void Alphabets_reject_duplicates_surrogates_and_bad_sizes()
    {
        Assert.Throws<ArgumentException>(() => new FpeAlphabet("0120"));
        Assert.Throws<ArgumentException>(() => new FpeAlphabet("a"));
        Assert.Throws<ArgumentException>(() => new FpeAlphabet("ab\ud800"));
        Assert.Throws<ArgumentOutOfRangeException>(() => FpeAlphabet.Base36(37));
        var custom = new FpeAlphabet("ACGT");
        Assert.Equal(4, custom.Radix);
        using var ff1 = new Ff1(new byte[32]);
        string dna = FpeText.Encrypt(ff1, custom, "GATTACAGATTACA", []);
        Assert.Matches("^[ACGT]{14}$", dna);
        Assert.Equal("GATTACAGATTACA", FpeText.Decrypt(ff1, custom, dna, []));
    }
}

/// <summary>ff1.json, made by Vectors/ff1.py (the command is in the file).</summary>
internal static class Ff1Vectors
{
    private static readonly Lazy<JsonElement[]> Vectors = new(() =>
    {
        using JsonDocument document = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Vectors", "ff1.json")));
        return [.. document.RootElement.GetProperty("ff1").EnumerateArray().Select(e => e.Clone())];
    });

    public static int Count => Vectors.Value.Length;

    public static JsonElement Get(int index) => Vectors.Value[index];
}
