using System.Text;
using System.Text.Json;
using FsCheck;
using FsCheck.Fluent;
using Pii.Crypto.Fields;
using Pii.Crypto.Tests.Vectors;

namespace Pii.Crypto.Tests;

public sealed class FieldCipherTests : IDisposable
{
    private static readonly FieldContext Cell = new("dnc_preferences", "email", "42");
    private readonly FieldKey _key = FieldKey.FromDek(7, Enumerable.Range(0, 32).Select(i => (byte)i).ToArray());

    public void Dispose() => _key.Dispose();

    [Theory]
    [InlineData(FieldMode.Randomized)]
    [InlineData(FieldMode.Deterministic)]
    public void Round_trips_strings_bytes_and_the_empty_value(FieldMode mode)
    {
        Assert.Equal("alice@example.com", FieldCipher.DecryptString(_key, FieldCipher.EncryptString(_key, mode, "alice@example.com", Cell), Cell));
        Assert.Equal("", FieldCipher.DecryptString(_key, FieldCipher.EncryptString(_key, mode, "", Cell), Cell));
        byte[] large = Enumerable.Range(0, 5000).Select(i => (byte)i).ToArray();
        Assert.Equal(large, FieldCipher.Decrypt(_key, FieldCipher.Encrypt(_key, mode, large, Cell), Cell));
    }

    [Theory]
    [InlineData(FieldMode.Randomized)]
    [InlineData(FieldMode.Deterministic)]
    public void Null_stays_null_and_empty_is_a_real_ciphertext_distinct_from_null(FieldMode mode)
    {
        Assert.Null(FieldCipher.EncryptString(_key, mode, null, Cell));
        Assert.Null(FieldCipher.Encrypt(_key, mode, null, Cell));
        Assert.Null(FieldCipher.Decrypt(_key, null, Cell));
        Assert.Null(FieldCipher.DecryptString(_key, null, Cell));

        byte[] empty = FieldCipher.EncryptString(_key, mode, "", Cell)!;
        Assert.NotEmpty(empty);
        Assert.NotNull(FieldCipher.Decrypt(_key, empty, Cell));
        Assert.Empty(FieldCipher.Decrypt(_key, empty, Cell)!);
    }

    [Theory]
    [InlineData(FieldMode.Randomized, 0, 30)]
    [InlineData(FieldMode.Randomized, 127, 30)]
    [InlineData(FieldMode.Randomized, 128, 31)]
    [InlineData(FieldMode.Randomized, 16383, 31)]
    [InlineData(FieldMode.Deterministic, 0, 18)]
    [InlineData(FieldMode.Deterministic, 127, 18)]
    [InlineData(FieldMode.Deterministic, 128, 19)]
    [InlineData(FieldMode.Deterministic, 16383, 19)]
    public void Overhead_is_at_most_32_randomized_and_20_deterministic_for_the_first_16384_deks(FieldMode mode, int dekId, int expectedOverhead)
    {
        using FieldKey key = FieldKey.FromDek(dekId, new byte[32]);
        foreach (int length in new[] { 0, 1, 50, 1000 })
        {
            byte[] ciphertext = FieldCipher.Encrypt(key, mode, new byte[length], Cell)!;
            Assert.Equal(expectedOverhead, ciphertext.Length - length);
            Assert.True(ciphertext.Length - length <= (mode == FieldMode.Randomized ? 32 : 20));
        }
    }

    [Theory]
    [InlineData(FieldMode.Randomized)]
    [InlineData(FieldMode.Deterministic)]
    public void Every_single_bit_flip_is_rejected(FieldMode mode)
    {
        byte[] ciphertext = FieldCipher.EncryptString(_key, mode, "+1 415 555 0100, a sample field of ~50 bytes", Cell)!;
        for (int bit = 0; bit < ciphertext.Length * 8; bit++)
        {
            byte[] tampered = (byte[])ciphertext.Clone();
            tampered[bit / 8] ^= (byte)(1 << (bit % 8));
            AssertRejected(() => FieldCipher.Decrypt(_key, tampered, Cell));
        }
    }

    [Theory]
    [InlineData(FieldMode.Randomized)]
    [InlineData(FieldMode.Deterministic)]
    public void Truncation_and_extension_are_rejected(FieldMode mode)
    {
        byte[] ciphertext = FieldCipher.EncryptString(_key, mode, "alice@example.com", Cell)!;
        for (int length = 0; length < ciphertext.Length; length++)
        {
            byte[] truncated = ciphertext.AsSpan(0, length).ToArray();
            AssertRejected(() => FieldCipher.Decrypt(_key, truncated, Cell));
        }
        AssertRejected(() => FieldCipher.Decrypt(_key, [.. ciphertext, 0], Cell));
        AssertRejected(() => FieldCipher.Decrypt(_key, [.. ciphertext, .. ciphertext], Cell));
    }

    [Theory]
    [InlineData(FieldMode.Randomized)]
    [InlineData(FieldMode.Deterministic)]
    public void A_ciphertext_moved_to_another_table_column_or_record_is_rejected(FieldMode mode)
    {
        byte[] ciphertext = FieldCipher.EncryptString(_key, mode, "alice@example.com", Cell)!;
        FieldContext[] elsewhere =
        [
            new("dnc_preference", "email", "42"),
            new("dnc_preferences", "phone", "42"),
            new("dnc_preferences", "email", "43"),
            new("dnc_preferences", "email", ""),
            new("dnc_preferencese", "mail", "42"), // same concatenation, different split: length prefixes tell them apart
            new("dnc_preferences", "email4", "2"),
        ];
        foreach (FieldContext other in elsewhere)
        {
            Assert.Throws<TamperedException>(() => FieldCipher.Decrypt(_key, ciphertext, other));
        }
    }

    [Fact]
    public void A_ciphertext_under_another_dek_is_an_unknown_key_and_a_relabelled_dek_id_is_tampered()
    {
        byte[] ciphertext = FieldCipher.EncryptString(_key, FieldMode.Randomized, "x", Cell)!;
        using FieldKey other = FieldKey.FromDek(8, new byte[32]);
        Assert.Throws<UnknownKeyException>(() => FieldCipher.Decrypt(other, ciphertext, Cell));

        using FieldKey sameBytesOtherId = FieldKey.FromDek(8, Enumerable.Range(0, 32).Select(i => (byte)i).ToArray());
        byte[] relabelled = (byte[])ciphertext.Clone();
        relabelled[1] = 8;
        Assert.Throws<TamperedException>(() => FieldCipher.Decrypt(sameBytesOtherId, relabelled, Cell));
    }

    [Fact]
    public void Header_reports_version_mode_and_dek_id_and_rejects_unknown_versions_and_overlong_ids()
    {
        using FieldKey key = FieldKey.FromDek(300, new byte[32]);
        byte[] ciphertext = FieldCipher.EncryptString(key, FieldMode.Deterministic, "abc", Cell)!;
        Assert.Equal(0x12, ciphertext[0]);
        FieldHeader header = FieldCipher.ReadHeader(ciphertext);
        Assert.Equal((FieldMode.Deterministic, 300, 3, 3), (header.Mode, header.DekId, header.HeaderLength, header.PlaintextLength));

        Assert.Throws<UnsupportedVersionException>(() => FieldCipher.ReadHeader([0x21, 0, .. new byte[40]]));
        Assert.Throws<UnsupportedVersionException>(() => FieldCipher.ReadHeader([0x13, 0, .. new byte[40]]));
        Assert.Throws<MalformedInputException>(() => FieldCipher.ReadHeader([0x11, 0x80, 0x00, .. new byte[40]]));
        Assert.Throws<MalformedInputException>(() => FieldCipher.ReadHeader([0x11, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, .. new byte[40]]));
        Assert.Throws<MalformedInputException>(() => FieldCipher.ReadHeader([0x11, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, .. new byte[40]]));
        Assert.Throws<TruncatedException>(() => FieldCipher.ReadHeader([0x11, 0x80]));
    }

    [Fact]
    public void Randomized_mode_gives_fresh_nonces_deterministic_mode_repeats()
    {
        var randomized = Enumerable.Range(0, 1000).Select(_ => Convert.ToHexString(FieldCipher.EncryptString(_key, FieldMode.Randomized, "same", Cell)!)).ToHashSet();
        Assert.Equal(1000, randomized.Count);
        var deterministic = Enumerable.Range(0, 10).Select(_ => Convert.ToHexString(FieldCipher.EncryptString(_key, FieldMode.Deterministic, "same", Cell)!)).ToHashSet();
        Assert.Single(deterministic);
    }

    [Theory]
    [InlineData(FieldMode.Randomized)]
    [InlineData(FieldMode.Deterministic)]
    public void One_key_is_safe_to_use_from_many_threads(FieldMode mode)
    {
        byte[][] results = new byte[2000][];
        Parallel.For(0, results.Length, i => results[i] = FieldCipher.Encrypt(_key, mode, BitConverter.GetBytes(i), Cell)!);
        Parallel.For(0, results.Length, i => Assert.Equal(BitConverter.GetBytes(i), FieldCipher.Decrypt(_key, results[i], Cell)));
    }

    [Fact]
    public void Property_round_trip_for_lengths_0_to_4096_in_both_modes()
    {
        Arbitrary<byte[]> payloads = Gen.Choose(0, 4096)
            .SelectMany(length => Gen.ArrayOf(ArbMap.Default.GeneratorFor<byte>(), length))
            .ToArbitrary();
        Prop.ForAll(payloads, plaintext =>
        {
            foreach (FieldMode mode in new[] { FieldMode.Randomized, FieldMode.Deterministic })
            {
                byte[] ciphertext = FieldCipher.Encrypt(_key, mode, plaintext, Cell)!;
                if (!FieldCipher.Decrypt(_key, ciphertext, Cell)!.AsSpan().SequenceEqual(plaintext))
                {
                    return false;
                }
            }
            return true;
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void Property_deterministic_ciphertexts_are_equal_iff_plaintext_and_context_are_equal()
    {
        Gen<string> shortText = Gen.Elements("", "a", "b", "alice@example.com", "bob@example.com", "Zoë");
        Gen<FieldContext> contexts = Gen.Elements(Cell, new FieldContext("dnc_preferences", "email", "43"), new FieldContext("patients", "email", "42"));
        Arbitrary<(string, FieldContext, string, FieldContext)> pairs =
            (from p1 in shortText from c1 in contexts from p2 in shortText from c2 in contexts select (p1, c1, p2, c2)).ToArbitrary();
        Prop.ForAll(pairs, pair =>
        {
            (string p1, FieldContext c1, string p2, FieldContext c2) = pair;
            byte[] x = FieldCipher.EncryptString(_key, FieldMode.Deterministic, p1, c1)!;
            byte[] y = FieldCipher.EncryptString(_key, FieldMode.Deterministic, p2, c2)!;
            return x.AsSpan().SequenceEqual(y) == (p1 == p2 && c1 == c2);
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void Property_null_and_empty_never_collide()
    {
        Prop.ForAll(Gen.Elements(FieldMode.Randomized, FieldMode.Deterministic).ToArbitrary(), mode =>
        {
            byte[]? fromNull = FieldCipher.EncryptString(_key, mode, null, Cell);
            byte[]? fromEmpty = FieldCipher.EncryptString(_key, mode, "", Cell);
            return fromNull is null && fromEmpty is not null
                && FieldCipher.DecryptString(_key, fromEmpty, Cell) == ""
                && FieldCipher.DecryptString(_key, fromNull, Cell) is null;
        }).QuickCheckThrowOnFailure();
    }

    public static TheoryData<int> PythonFieldVectors() => [.. Enumerable.Range(0, CheckedInVectors.Section("field").Count())];

    [Theory]
    [MemberData(nameof(PythonFieldVectors))]
    public void Decrypts_field_ciphertexts_built_by_python_from_the_documented_format(int index)
    {
        JsonElement vector = CheckedInVectors.Section("field").ElementAt(index);
        using FieldKey key = FieldKey.FromDek(vector.GetProperty("dek_id").GetInt32(), vector.Hex("dek"));
        var cell = new FieldContext(vector.Text("table"), vector.Text("column"), vector.Text("record_id"));
        byte[] ciphertext = vector.Hex("ciphertext");
        byte[] plaintext = vector.Hex("plaintext");

        Assert.Equal(plaintext, FieldCipher.Decrypt(key, ciphertext, cell));
        FieldMode mode = vector.Text("mode") == "deterministic" ? FieldMode.Deterministic : FieldMode.Randomized;
        Assert.Equal(mode, FieldCipher.ReadHeader(ciphertext).Mode);
        if (mode == FieldMode.Deterministic)
        {
            Assert.Equal(ciphertext, FieldCipher.Encrypt(key, mode, plaintext, cell));
        }
    }

    [Fact]
    public void Disposed_key_is_zeroed_and_refuses_work()
    {
        FieldKey key = FieldKey.FromDek(1, Encoding.ASCII.GetBytes("0123456789abcdef0123456789abcdef"));
        byte[] ciphertext = FieldCipher.EncryptString(key, FieldMode.Deterministic, "x", Cell)!;
        Assert.False(key.KeyMaterialIsZero());
        key.Dispose();
        Assert.True(key.KeyMaterialIsZero());
        Assert.Throws<ObjectDisposedException>(() => FieldCipher.Decrypt(key, ciphertext, Cell));
    }

    [Fact]
    public void Context_parses_table_column_and_id()
    {
        Assert.Equal(new FieldContext("t", "c", "1:2"), FieldContext.Parse("t.c:1:2"));
        Assert.Equal(new FieldContext("t", "c.d", ""), FieldContext.Parse("t.c.d:"));
        Assert.Throws<MalformedInputException>(() => FieldContext.Parse("t:1"));
        Assert.Throws<MalformedInputException>(() => FieldContext.Parse(".c:1"));
        Assert.Throws<MalformedInputException>(() => FieldContext.Parse("t.:1"));
        Assert.Throws<MalformedInputException>(() => new FieldContext("t", "c", new string('x', 257)));
    }

    private static void AssertRejected(Action decrypt)
    {
        Exception e = Assert.ThrowsAny<CryptoException>(decrypt);
        Assert.True(e is TamperedException or UnknownKeyException or UnsupportedVersionException or MalformedInputException or TruncatedException);
    }
}
