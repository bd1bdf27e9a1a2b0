using Pii.Crypto.KeyWrap;

namespace Pii.Crypto.Tests;

public class AesKeyWrapTests
{
    private const string Kek128 = "000102030405060708090A0B0C0D0E0F";
    private const string Kek192 = "000102030405060708090A0B0C0D0E0F1011121314151617";
    private const string Kek256 = "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F";

    // RFC 3394 §4.1-4.6.
    [Theory]
    [InlineData(Kek128, "00112233445566778899AABBCCDDEEFF", "1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5")]
    [InlineData(Kek192, "00112233445566778899AABBCCDDEEFF", "96778B25AE6CA435F92B5B97C050AED2468AB8A17AD84E5D")]
    [InlineData(Kek256, "00112233445566778899AABBCCDDEEFF", "64E8C3F9CE0F5BA263E9777905818A2A93C8191E7D6E8AE7")]
    [InlineData(Kek192, "00112233445566778899AABBCCDDEEFF0001020304050607", "031D33264E15D33268F24EC260743EDCE1C6C7DDEE725A936BA814915C6762D2")]
    [InlineData(Kek256, "00112233445566778899AABBCCDDEEFF0001020304050607", "A8F9BC1612C68B3FF6E6F4FBE30E71E4769C8B80A32CB8958CD5D17D6B254DA1")]
    [InlineData(Kek256, "00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F", "28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21")]
    public void Rfc3394_section4_vectors(string kekHex, string keyHex, string wrappedHex)
    {
        byte[] kek = Convert.FromHexString(kekHex);
        Assert.Equal(Convert.FromHexString(wrappedHex), AesKeyWrap.Wrap(kek, Convert.FromHexString(keyHex)));
        Assert.Equal(Convert.FromHexString(keyHex), AesKeyWrap.Unwrap(kek, Convert.FromHexString(wrappedHex)));
    }

    // RFC 5649 §6.
    [Theory]
    [InlineData("5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8", "c37b7e6492584340bed12207808941155068f738", "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a")]
    [InlineData("5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8", "466f7250617369", "afbeb0f07dfbf5419200f2ccb50bb24f")]
    public void Rfc5649_section6_vectors(string kekHex, string keyHex, string wrappedHex)
    {
        byte[] kek = Convert.FromHexString(kekHex);
        Assert.Equal(Convert.FromHexString(wrappedHex), AesKeyWrap.WrapPadded(kek, Convert.FromHexString(keyHex)));
        Assert.Equal(Convert.FromHexString(keyHex), AesKeyWrap.UnwrapPadded(kek, Convert.FromHexString(wrappedHex)));
    }

    [Fact]
    public void Every_bit_flip_of_a_wrapped_key_is_rejected_as_tampered()
    {
        byte[] kek = Convert.FromHexString(Kek256);
        byte[] dek = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();
        byte[] wrapped = AesKeyWrap.Wrap(kek, dek);
        byte[] padded = AesKeyWrap.WrapPadded(kek, dek.AsSpan(0, 7));
        for (int bit = 0; bit < wrapped.Length * 8; bit++)
        {
            Assert.Throws<TamperedException>(() => AesKeyWrap.Unwrap(kek, Flip(wrapped, bit)));
        }
        for (int bit = 0; bit < padded.Length * 8; bit++)
        {
            Assert.Throws<TamperedException>(() => AesKeyWrap.UnwrapPadded(kek, Flip(padded, bit)));
        }
    }

    [Fact]
    public void Wrong_kek_and_mixed_variants_are_rejected()
    {
        byte[] kek = Convert.FromHexString(Kek128);
        byte[] other = Convert.FromHexString("0F0E0D0C0B0A09080706050403020100");
        byte[] dek = new byte[32];
        Assert.Throws<TamperedException>(() => AesKeyWrap.Unwrap(other, AesKeyWrap.Wrap(kek, dek)));
        Assert.Throws<TamperedException>(() => AesKeyWrap.UnwrapPadded(kek, AesKeyWrap.Wrap(kek, dek)));
        Assert.Throws<TamperedException>(() => AesKeyWrap.Unwrap(kek, AesKeyWrap.WrapPadded(kek, dek)));
    }

    [Fact]
    public void Padded_wrap_round_trips_every_length_from_1_to_64()
    {
        byte[] kek = Convert.FromHexString(Kek256);
        for (int length = 1; length <= 64; length++)
        {
            byte[] key = Enumerable.Range(0, length).Select(i => (byte)(i * 7 + length)).ToArray();
            byte[] wrapped = AesKeyWrap.WrapPadded(kek, key);
            Assert.Equal((length + 7) / 8 * 8 + 8, wrapped.Length);
            Assert.Equal(key, AesKeyWrap.UnwrapPadded(kek, wrapped));
        }
    }

    [Fact]
    public void Lengths_that_cannot_be_wrapped_are_malformed_input()
    {
        byte[] kek = Convert.FromHexString(Kek128);
        Assert.Throws<MalformedInputException>(() => AesKeyWrap.Wrap(kek, new byte[8]));
        Assert.Throws<MalformedInputException>(() => AesKeyWrap.Wrap(kek, new byte[17]));
        Assert.Throws<MalformedInputException>(() => AesKeyWrap.Unwrap(kek, new byte[16]));
        Assert.Throws<MalformedInputException>(() => AesKeyWrap.Unwrap(kek, new byte[25]));
        Assert.Throws<MalformedInputException>(() => AesKeyWrap.WrapPadded(kek, []));
        Assert.Throws<MalformedInputException>(() => AesKeyWrap.UnwrapPadded(kek, new byte[8]));
        Assert.Throws<ArgumentException>(() => AesKeyWrap.Wrap(new byte[15], new byte[16]));
    }

    [Fact]
    public void Padded_unwrap_rejects_truncation_and_extension()
    {
        byte[] kek = Convert.FromHexString(Kek128);
        byte[] honest = AesKeyWrap.WrapPadded(kek, new byte[16]);
        byte[] truncated = honest.AsSpan(0, 16).ToArray();
        Assert.Throws<TamperedException>(() => AesKeyWrap.UnwrapPadded(kek, truncated));
        byte[] extended = [.. honest, .. new byte[8]];
        Assert.Throws<TamperedException>(() => AesKeyWrap.UnwrapPadded(kek, extended));
    }

    private static byte[] Flip(byte[] data, int bit)
    {
        byte[] copy = (byte[])data.Clone();
        copy[bit / 8] ^= (byte)(1 << (bit % 8));
        return copy;
    }
}
