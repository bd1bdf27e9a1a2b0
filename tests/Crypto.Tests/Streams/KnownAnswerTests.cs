using System.Buffers.Binary;
using System.Text.Json;
using Pii.Crypto.Streams;
using Pii.Crypto.Streams.Keyrings;
using static Pii.Crypto.Tests.Streams.StreamTestSupport;

namespace Pii.Crypto.Tests.Streams;

/// <summary>
/// Checked-in messages written by the official JS ESDK 5.0.2 (Interop/make-vectors.js; manifest Vectors/vectors.json)
/// must decrypt here to the recorded plaintext and context, and the STREAM-FORMAT.md §9 example must have its layout.
/// </summary>
public sealed class KnownAnswerTests
{
    public static TheoryData<string> VectorFiles()
    {
        var data = new TheoryData<string>();
        foreach (var vector in Manifest().GetProperty("vectors").EnumerateArray())
        {
            data.Add(vector.GetProperty("file").GetString()!);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(VectorFiles))]
    public async Task Js_esdk_vector_decrypts_to_its_plaintext_and_context(string file)
    {
        var vector = Manifest().GetProperty("vectors").EnumerateArray().Single(v => v.GetProperty("file").GetString() == file);
        var message = await File.ReadAllBytesAsync(Path.Combine(VectorsDirectory, file));
        var expectedPlaintext = vector.TryGetProperty("text", out var text)
            ? System.Text.Encoding.UTF8.GetBytes(text.GetString()!)
            : Pattern(vector.GetProperty("length").GetInt32());
        var expectedContext = vector.GetProperty("context").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!);
        var keyringKind = vector.GetProperty("keyring").GetString()!;

        using var aes = AesKeyring();
        using var rsa = RsaPrivateKeyring();
        IKeyring[] keyrings = keyringKind switch
        {
            "aes" => [aes],
            "rsa" => [rsa],
            _ => [aes, rsa],
        };
        foreach (var keyring in keyrings)
        {
            var (plaintext, context) = await DecryptAsync(message, keyring);
            Assert.Equal(expectedPlaintext, plaintext);
            Assert.Equal(expectedContext.OrderBy(p => p.Key, StringComparer.Ordinal), context.OrderBy(p => p.Key, StringComparer.Ordinal));
            Assert.Equal(expectedPlaintext, await DecryptWithStreamAsync(message, keyring));
        }
        if (keyringKind == "aes")
        {
            await Assert.ThrowsAsync<UnknownKeyException>(() => DecryptAsync(message, rsa));
        }
    }

    [Fact]
    public async Task Section_9_example_has_the_documented_layout()
    {
        var message = await File.ReadAllBytesAsync(Path.Combine(VectorsDirectory, "example-hello.bin"));

        Assert.Equal(287, message.Length);
        Assert.Equal(new byte[] { 0x02, 0x04, 0x78 }, message[..3]);
        Assert.Equal(Convert.FromHexString("0017" + "0002" + "0003646f6300023432" + "000674656e616e7400027431"), message[35..60]);
        Assert.Equal([.. Convert.FromHexString("0001000a"), .. "example-ns"u8], message[60..74]);
        Assert.Equal([.. Convert.FromHexString("001f"), .. "example-key"u8, .. Convert.FromHexString("000000800000000c")], message[74..95]);
        Assert.Equal(0x0030, BinaryPrimitives.ReadUInt16BigEndian(message.AsSpan(107)));
        Assert.Equal(Convert.FromHexString("0200000004"), message[157..162]);
        Assert.Equal(Convert.FromHexString("00000001000000000000000000000001"), message[210..226]);
        Assert.Equal(Convert.FromHexString("ffffffff00000002000000000000000000000002" + "00000001"), message[246..270]);

        using var aes = AesKeyring();
        using var ranged = await RangeDecryptor.OpenAsync(RangeReaderOver(message), message.Length, aes);
        Assert.Equal(194 + 16, ranged.Layout.HeaderLength);
        Assert.Equal(1, ranged.Layout.RegularFrameCount);
        Assert.Equal(1, ranged.Layout.FinalFrameContentLength);
        Assert.Equal("ello"u8.ToArray(), await ReadRangeAsync(ranged, 1, 5));
    }

    [Fact]
    public async Task Commit_key_in_the_example_is_hkdf_sha512_of_the_unwrapped_data_key()
    {
        var message = await File.ReadAllBytesAsync(Path.Combine(VectorsDirectory, "example-hello.bin"));
        var header = await HeaderReader.ReadAsync(MessageCrypto.HeaderSource(new MemoryStream(message)), new StreamDecryptionOptions(), default);
        using var aes = AesKeyring();
        var dataKey = await aes.UnwrapDataKeyAsync(header.EncryptedDataKeys, header.EncryptionContext, default);
        Assert.NotNull(dataKey);

        var commitKey = new byte[32];
        KeyDerivation.DeriveCommitKey(dataKey, header.MessageId, commitKey);

        Assert.Equal(message[162..194], commitKey);
        Assert.Equal(message[3..35], header.MessageId);
    }

    private static JsonElement Manifest() =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(VectorsDirectory, "vectors.json"))).RootElement;
}
