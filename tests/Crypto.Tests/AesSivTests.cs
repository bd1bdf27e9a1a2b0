using System.Text.Json;
using Pii.Crypto.Siv;
using Pii.Crypto.Tests.Vectors;

namespace Pii.Crypto.Tests;

public class AesSivTests
{
    [Fact]
    public void Rfc5297_A1_deterministic_authenticated_encryption()
    {
        byte[] key = Convert.FromHexString("fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
        byte[] ad = Convert.FromHexString("101112131415161718191a1b1c1d1e1f2021222324252627");
        byte[] plaintext = Convert.FromHexString("112233445566778899aabbccddee");
        byte[] expected = Convert.FromHexString("85632d07c6e8f37f950acd320a2ecc93" + "40c02b9690c4dc04daef7f6afe5c");

        using var siv = new AesSiv(key);
        var output = new byte[AesSiv.CiphertextLength(plaintext.Length)];
        siv.Encrypt(plaintext, ad, output);
        Assert.Equal(expected, output);

        var decrypted = new byte[plaintext.Length];
        siv.Decrypt(output, ad, decrypted);
        Assert.Equal(plaintext, decrypted);
    }

    [Fact]
    public void Rfc5297_A2_nonce_based_with_three_associated_data_items()
    {
        byte[] key = Convert.FromHexString("7f7e7d7c7b7a79787776757473727170404142434445464748494a4b4c4d4e4f");
        byte[][] ad =
        [
            Convert.FromHexString("00112233445566778899aabbccddeeffdeaddadadeaddadaffeeddccbbaa99887766554433221100"),
            Convert.FromHexString("102030405060708090a0"),
            Convert.FromHexString("09f911029d74e35bd84156c5635688c0"),
        ];
        byte[] plaintext = Convert.FromHexString("7468697320697320736f6d6520706c61696e7465787420746f20656e6372797074207573696e67205349562d414553");
        byte[] expected = Convert.FromHexString(
            "7bdb6e3b432667eb06f4d14bff2fbd0f" +
            "cb900f2fddbe404326601965c889bf17dba77ceb094fa663b7a3f748ba8af829ea64ad544a272e9c485b62a3fd5c0d");

        using var siv = new AesSiv(key);
        var output = new byte[AesSiv.CiphertextLength(plaintext.Length)];
        siv.Encrypt(plaintext, ad, output);
        Assert.Equal(expected, output);

        var decrypted = new byte[plaintext.Length];
        siv.Decrypt(output, ad, decrypted);
        Assert.Equal(plaintext, decrypted);
    }

    public static TheoryData<int> PythonVectorIndexes()
    {
        var data = new TheoryData<int>();
        int count = CheckedInVectors.Section("aes_siv").Count();
        for (int i = 0; i < count; i++)
        {
            data.Add(i);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(PythonVectorIndexes))]
    public void Matches_python_cryptography_AESSIV(int index)
    {
        JsonElement vector = CheckedInVectors.Section("aes_siv").ElementAt(index);
        byte[] key = vector.Hex("key");
        byte[] plaintext = vector.Hex("plaintext");
        byte[] expected = vector.Hex("output");
        byte[][] ad = [.. vector.GetProperty("ad").EnumerateArray().Select(a => Convert.FromHexString(a.GetString()!))];

        using var siv = new AesSiv(key);
        var output = new byte[AesSiv.CiphertextLength(plaintext.Length)];
        siv.Encrypt(plaintext, ad, output);
        Assert.Equal(expected, output);

        var decrypted = new byte[plaintext.Length];
        siv.Decrypt(expected, ad, decrypted);
        Assert.Equal(plaintext, decrypted);

        if (ad.Length == 1)
        {
            var single = new byte[output.Length];
            siv.Encrypt(plaintext, ad[0], single);
            Assert.Equal(expected, single);
        }
    }

    [Fact]
    public void Every_bit_flip_and_a_changed_associated_data_item_are_rejected_and_plaintext_is_not_released()
    {
        using var siv = new AesSiv(new byte[64]);
        byte[] plaintext = "a field of about fifty bytes, for the tamper test"u8.ToArray();
        byte[][] ad = [[1, 2, 3], [4]];
        var output = new byte[AesSiv.CiphertextLength(plaintext.Length)];
        siv.Encrypt(plaintext, ad, output);

        for (int bit = 0; bit < output.Length * 8; bit++)
        {
            byte[] tampered = (byte[])output.Clone();
            tampered[bit / 8] ^= (byte)(1 << (bit % 8));
            var destination = new byte[plaintext.Length];
            Assert.Throws<TamperedException>(() => siv.Decrypt(tampered, ad, destination));
            Assert.All(destination, b => Assert.Equal(0, b));
        }
        Assert.Throws<TamperedException>(() => siv.Decrypt(output, [[1, 2, 3], [5]], new byte[plaintext.Length]));
        Assert.Throws<TamperedException>(() => siv.Decrypt(output, [[4], [1, 2, 3]], new byte[plaintext.Length]));
        Assert.Throws<TruncatedException>(() => siv.Decrypt(output.AsSpan(0, 15), ad, new byte[plaintext.Length]));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(16)]
    [InlineData(31)]
    [InlineData(33)]
    [InlineData(128)]
    public void Rejects_key_sizes_the_rfc_does_not_define(int size) =>
        Assert.Throws<ArgumentException>(() => new AesSiv(new byte[size]));

    [Fact]
    public void Rejects_more_than_126_associated_data_items()
    {
        using var siv = new AesSiv(new byte[32]);
        byte[][] ad = [.. Enumerable.Range(0, 127).Select(_ => new byte[1])];
        Assert.Throws<ArgumentException>(() => siv.Encrypt([], ad, new byte[16]));
    }
}
