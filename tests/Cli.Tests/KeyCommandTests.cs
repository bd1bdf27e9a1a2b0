using System.Security.Cryptography;
using System.Text;
using Pii.Testing;

namespace Pii.Cli.Tests;

public sealed class KeyCommandTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("pii-key-cli-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string PassphraseFile(string passphrase)
    {
        string path = Path.Combine(_directory, Guid.NewGuid().ToString("N"));
        File.WriteAllText(path, passphrase);
        return path;
    }

    [Theory]
    [InlineData(null, "$argon2id$v=19$m=65536,t=2,p=1$")]
    [InlineData("pbkdf2", "$pbkdf2-sha256$i=600000$")]
    public async Task Protect_then_unprotect_returns_the_key(string? kdf, string parametersLine)
    {
        byte[] key = RandomNumberGenerator.GetBytes(32);
        string passphrase = PassphraseFile("correct horse battery staple\n");
        string[] kdfArgs = kdf is null ? [] : ["--kdf", kdf];
        PiiCliProcess.Result protect = await PiiCliProcess.RunAsync(key, ["key", "protect", "--passphrase-file", passphrase, .. kdfArgs]);
        Assert.Equal(0, protect.ExitCode);
        string file = Encoding.ASCII.GetString(protect.Stdout);
        Assert.StartsWith("PII-PROTECTED-KEY v1\n" + parametersLine, file, StringComparison.Ordinal);

        // The same passphrase without the line break (the file's one trailing line break is not part of it).
        PiiCliProcess.Result unprotect = await PiiCliProcess.RunAsync(protect.Stdout, ["key", "unprotect", "--passphrase-file", PassphraseFile("correct horse battery staple")]);
        Assert.Equal(0, unprotect.ExitCode);
        Assert.Equal(key, unprotect.Stdout);
    }

    [Fact]
    public async Task Wrong_passphrase_and_tampered_file_are_exit_1_with_no_output()
    {
        PiiCliProcess.Result protect = await PiiCliProcess.RunAsync(RandomNumberGenerator.GetBytes(32), ["key", "protect", "--passphrase-file", PassphraseFile("right"), "--kdf", "pbkdf2"]);
        Assert.Equal(0, protect.ExitCode);

        PiiCliProcess.Result wrong = await PiiCliProcess.RunAsync(protect.Stdout, ["key", "unprotect", "--passphrase-file", PassphraseFile("wrong")]);
        Assert.Equal(1, wrong.ExitCode);
        Assert.Empty(wrong.Stdout);
        Assert.Contains("passphrase is wrong or the protected key file was altered", wrong.Stderr, StringComparison.Ordinal);

        byte[] tampered = (byte[])protect.Stdout.Clone();
        tampered[^5] = (byte)(tampered[^5] == 'A' ? 'B' : 'A');
        PiiCliProcess.Result altered = await PiiCliProcess.RunAsync(tampered, ["key", "unprotect", "--passphrase-file", PassphraseFile("right")]);
        Assert.Equal(1, altered.ExitCode);
        Assert.Empty(altered.Stdout);
    }

    [Fact]
    public async Task Usage_errors_are_exit_2()
    {
        byte[] key = new byte[32];
        Assert.Equal(2, (await PiiCliProcess.RunAsync(key, ["key", "protect", "--passphrase-file", Path.Combine(_directory, "missing")])).ExitCode);
        Assert.Equal(2, (await PiiCliProcess.RunAsync(key, ["key", "protect", "--passphrase-file", PassphraseFile("\n")])).ExitCode);
        Assert.Equal(2, (await PiiCliProcess.RunAsync(key, ["key", "protect", "--passphrase-file", PassphraseFile("pw"), "--kdf", "scrypt"])).ExitCode);
        Assert.Equal(2, (await PiiCliProcess.RunAsync(key, ["key", "protect"])).ExitCode);
        Assert.Equal(2, (await PiiCliProcess.RunAsync("not a key file\n"u8.ToArray(), ["key", "unprotect", "--passphrase-file", PassphraseFile("pw")])).ExitCode);
    }
}
