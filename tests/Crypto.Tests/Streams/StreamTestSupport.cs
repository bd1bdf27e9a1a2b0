using System.Reflection;
using System.Security.Cryptography;
using Pii.Crypto.Streams;
using Pii.Crypto.Streams.Keyrings;

namespace Pii.Crypto.Tests.Streams;

/// <summary>Keys, plaintexts and helpers shared by the stream tests (throw-away test keys only).</summary>
internal static class StreamTestSupport
{
    public const string AesKeyHex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    public const string AesNamespace = "example-ns";
    public const string AesName = "example-key";
    public const string RsaNamespace = "recovery-ns";
    public const string RsaName = "recovery-key";

    public static string Directory { get; } = typeof(StreamTestSupport).Assembly
        .GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "StreamsTestDirectory").Value!;

    public static string VectorsDirectory => Path.Combine(Directory, "Vectors");

    public static string RsaPublicPemPath => Path.Combine(VectorsDirectory, "rsa-test-public.pem");

    public static string RsaPrivatePemPath => Path.Combine(VectorsDirectory, "rsa-test-private.pem");

    public static RawAesKeyring AesKeyring(string name = AesName) => new(AesNamespace, name, Convert.FromHexString(AesKeyHex));

    public static RawRsaKeyring RsaPublicKeyring() => RawRsaKeyring.FromPem(RsaNamespace, RsaName, File.ReadAllText(RsaPublicPemPath), null);

    public static RawRsaKeyring RsaPrivateKeyring() => RawRsaKeyring.FromPem(RsaNamespace, RsaName, null, File.ReadAllText(RsaPrivatePemPath));

    /// <summary>The plaintext pattern of the checked-in vectors: byte i = (i·31 + 7) mod 256.</summary>
    public static byte[] Pattern(long length)
    {
        var bytes = new byte[length];
        for (var i = 0; i < bytes.Length; i++)
        {
            bytes[i] = (byte)(i * 31 + 7);
        }
        return bytes;
    }

    public static byte[] RandomBytes(int length) => RandomNumberGenerator.GetBytes(length);

    public static Dictionary<string, string> AsciiContext => new() { ["tenant"] = "t1", ["doc"] = "42" };

    /// <summary>Non-ASCII keys, including U+1F600 vs U+FF21, whose UTF-8 order differs from UTF-16 ordinal order.</summary>
    public static Dictionary<string, string> NonAsciiContext => new()
    {
        ["\U0001F600"] = "grin",
        ["\uFF21"] = "fullwidth A",
        ["Zone"] = "x",
        ["archive"] = "y",
        ["clé"] = "vàlue",
    };

    public static async Task<byte[]> EncryptAsync(
        byte[] plaintext, IKeyring keyring, IReadOnlyDictionary<string, string>? context = null, int frameLength = 64, int parallelism = 1)
    {
        using var output = new MemoryStream();
        await StreamEncryptor.EncryptAsync(
            new MemoryStream(plaintext), output, keyring, context,
            new StreamEncryptionOptions { FrameLength = frameLength, MaxDegreeOfParallelism = parallelism });
        return output.ToArray();
    }

    public static async Task<(byte[] Plaintext, IReadOnlyDictionary<string, string> Context)> DecryptAsync(
        byte[] message, IKeyring keyring, int parallelism = 1, StreamDecryptionOptions? options = null)
    {
        using var output = new MemoryStream();
        var context = await StreamDecryptor.DecryptAsync(
            new MemoryStream(message), output, keyring,
            new StreamDecryptionOptions
            {
                MaxDegreeOfParallelism = parallelism,
                MaxEncryptedDataKeys = options?.MaxEncryptedDataKeys ?? 16,
                MaxHeaderLength = options?.MaxHeaderLength ?? 256 * 1024,
                MaxFrameLength = options?.MaxFrameLength ?? StreamDecryptionOptions.DefaultMaxFrameLength,
            });
        return (output.ToArray(), context);
    }

    /// <summary>Reads through the sync <see cref="DecryptingStream"/> with an odd buffer size.</summary>
    public static async Task<byte[]> DecryptWithStreamAsync(byte[] message, IKeyring keyring)
    {
        await using var decrypting = await StreamDecryptor.OpenAsync(new MemoryStream(message), keyring);
        using var output = new MemoryStream();
        var buffer = new byte[37];
        int read;
        while ((read = decrypting.Read(buffer)) > 0)
        {
            output.Write(buffer, 0, read);
        }
        return output.ToArray();
    }

    public static CiphertextRangeReader RangeReaderOver(byte[] message) =>
        (offset, destination, _) =>
        {
            var available = message.AsMemory((int)Math.Min(offset, message.Length));
            var count = Math.Min(destination.Length, available.Length);
            available[..count].CopyTo(destination);
            return ValueTask.FromResult(count);
        };

    public static async Task<byte[]> ReadRangeAsync(RangeDecryptor decryptor, long start, long end)
    {
        using var output = new MemoryStream();
        await decryptor.ReadAsync(start, end, output);
        return output.ToArray();
    }
}
