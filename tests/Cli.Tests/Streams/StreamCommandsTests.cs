using System.Security.Cryptography;
using Pii.Testing;

namespace Pii.Cli.Tests.Streams;

/// <summary>Runs the real <c>pii</c> binary: <c>pii stream encrypt|decrypt</c>, stdin to stdout, exit codes 0/1/2.</summary>
public sealed class StreamCommandsTests : IDisposable
{
    private const string AesKeyHex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    private static readonly string[] AesOptions = ["--aes-key-hex", AesKeyHex, "--key-namespace", "ns", "--key-name", "doc-key"];

    private readonly string directory = Directory.CreateTempSubdirectory("pii-stream-cli-").FullName;
    private readonly string publicPem;
    private readonly string privatePem;

    public StreamCommandsTests()
    {
        using var rsa = RSA.Create(2048);
        publicPem = Path.Combine(directory, "public.pem");
        privatePem = Path.Combine(directory, "private.pem");
        File.WriteAllText(publicPem, rsa.ExportSubjectPublicKeyInfoPem());
        File.WriteAllText(privatePem, rsa.ExportPkcs8PrivateKeyPem());
    }

    [Fact]
    public async Task Encrypt_then_decrypt_round_trips_with_a_raw_aes_key()
    {
        var plaintext = RandomNumberGenerator.GetBytes(10_000);

        var encrypted = await PiiAsync(plaintext, ["stream", "encrypt", .. AesOptions, "--context", """{"tenant":"t1","😀":"Ａ"}""", "--frame-length", "1000"]);
        var decrypted = await PiiAsync(encrypted.Stdout, ["stream", "decrypt", .. AesOptions]);

        Assert.Equal(0, encrypted.ExitCode);
        Assert.Equal(10_000 + 10 * 32 + 40, encrypted.Stdout.Length - HeaderLengthOf(encrypted.Stdout));
        Assert.Equal(0, decrypted.ExitCode);
        Assert.Equal(plaintext, decrypted.Stdout);
    }

    [Fact]
    public async Task A_message_for_aes_and_rsa_opens_with_the_rsa_private_key_alone()
    {
        var plaintext = RandomNumberGenerator.GetBytes(70_000);
        string[] rsaNames = ["--rsa-key-namespace", "recovery", "--rsa-key-name", "r1"];

        var encrypted = await PiiAsync(plaintext, ["stream", "encrypt", .. AesOptions, "--rsa-public-key", publicPem, .. rsaNames]);
        var decrypted = await PiiAsync(encrypted.Stdout, ["stream", "decrypt", "--rsa-private-key", privatePem, .. rsaNames]);

        Assert.Equal(0, encrypted.ExitCode);
        Assert.Equal(0, decrypted.ExitCode);
        Assert.Equal(plaintext, decrypted.Stdout);
    }

    [Fact]
    public async Task Tampered_truncated_extended_or_foreign_messages_exit_with_1()
    {
        var encrypted = (await PiiAsync(RandomNumberGenerator.GetBytes(5000), ["stream", "encrypt", .. AesOptions, "--frame-length", "1024"])).Stdout;
        var tampered = (byte[])encrypted.Clone();
        tampered[^100] ^= 0x01;
        var truncatedAtFrame = encrypted[..(HeaderLengthOf(encrypted) + 1024 + 32)];
        byte[] extended = [.. encrypted, 0];
        string[] otherKey = ["--aes-key-hex", Convert.ToHexString(RandomNumberGenerator.GetBytes(32)), "--key-namespace", "ns", "--key-name", "doc-key"];

        foreach (var (input, options) in new[] { (tampered, AesOptions), (truncatedAtFrame, AesOptions), (extended, AesOptions), (encrypted, otherKey) })
        {
            var result = await PiiAsync(input, ["stream", "decrypt", .. options]);
            Assert.Equal(1, result.ExitCode);
            Assert.StartsWith("rejected", result.Stderr, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_message_of_several_io_chunks_round_trips_and_a_flip_late_in_it_releases_only_verified_frames()
    {
        // Larger than the CLI's read-ahead and write-behind chunks together, with a ragged end.
        var plaintext = RandomNumberGenerator.GetBytes(6 * 1024 * 1024 + 17);
        var encrypted = await PiiAsync(plaintext, ["stream", "encrypt", .. AesOptions]);
        Assert.Equal(0, encrypted.ExitCode);
        var decrypted = await PiiAsync(encrypted.Stdout, ["stream", "decrypt", .. AesOptions]);
        Assert.Equal(0, decrypted.ExitCode);
        Assert.Equal(plaintext, decrypted.Stdout);

        var tampered = (byte[])encrypted.Stdout.Clone();
        tampered[^200_000] ^= 0x80;
        var rejected = await PiiAsync(tampered, ["stream", "decrypt", .. AesOptions]);
        Assert.Equal(1, rejected.ExitCode);
        Assert.True(rejected.Stdout.Length < plaintext.Length - 65_536, "the tampered frame's plaintext was released");
        Assert.Equal(plaintext.AsSpan(0, rejected.Stdout.Length).ToArray(), rejected.Stdout);
    }

    [Theory]
    [InlineData("encrypt")]
    [InlineData("encrypt", "--aes-key-hex", "zz", "--key-namespace", "ns", "--key-name", "k")]
    [InlineData("encrypt", "--aes-key-hex", "0011", "--key-namespace", "ns", "--key-name", "k")]
    [InlineData("encrypt", "--aes-key-hex", AesKeyHex, "--key-name", "k")]
    [InlineData("encrypt", "--aes-key-hex", AesKeyHex, "--key-namespace", "ns", "--key-name", "k", "--frame-length", "abc")]
    [InlineData("encrypt", "--aes-key-hex", AesKeyHex, "--key-namespace", "ns", "--key-name", "k", "--frame-length", "0")]
    [InlineData("encrypt", "--aes-key-hex", AesKeyHex, "--key-namespace", "ns", "--key-name", "k", "--frame-length")]
    [InlineData("encrypt", "--aes-key-hex", AesKeyHex, "--key-namespace", "ns", "--key-name", "k", "--context", "[1,2]")]
    [InlineData("encrypt", "--aes-key-hex", AesKeyHex, "--key-namespace", "ns", "--key-name", "k", "--context", """{"aws-crypto-x":"y"}""")]
    [InlineData("encrypt", "--aes-key-hex", AesKeyHex, "--key-namespace", "ns", "--key-name", "k", "--unknown")]
    [InlineData("encrypt", "--rsa-public-key", "/nonexistent/key.pem", "--rsa-key-namespace", "ns", "--rsa-key-name", "k")]
    [InlineData("decrypt")]
    public async Task Bad_usage_exits_with_2(params string[] arguments)
    {
        var result = await PiiAsync("hello"u8.ToArray(), ["stream", .. arguments]);

        Assert.Equal(2, result.ExitCode);
        Assert.Empty(result.Stdout);
    }

    [Fact]
    public async Task A_missing_or_unknown_verb_exits_with_2()
    {
        Assert.Equal(2, (await PiiAsync([], ["stream"])).ExitCode);
        Assert.Equal(2, (await PiiAsync([], ["stream", "shred"])).ExitCode);
    }

    public void Dispose() => Directory.Delete(directory, recursive: true);

    /// <summary>Header length of a single-EDK raw AES message from the fields of its v2 header.</summary>
    private static int HeaderLengthOf(byte[] message)
    {
        var position = 35;
        position += 2 + (message[position] << 8 | message[position + 1]);
        var edks = message[position] << 8 | message[position + 1];
        position += 2;
        for (var i = 0; i < edks * 3; i++)
        {
            position += 2 + (message[position] << 8 | message[position + 1]);
        }
        return position + 1 + 4 + 32 + 16;
    }

    private static Task<PiiCliProcess.Result> PiiAsync(byte[] stdin, IReadOnlyList<string> arguments) => PiiCliProcess.RunAsync(stdin, arguments);
}
