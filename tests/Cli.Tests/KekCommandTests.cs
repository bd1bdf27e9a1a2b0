using System.Security.Cryptography;
using System.Text;
using Pii.Crypto.Keys;
using Pii.Crypto.Pkcs11;
using Pii.Testing;

namespace Pii.Cli.Tests;

/// <summary>
/// <c>pii kek wrap|unwrap</c> with the local KEK chosen by configuration: an AES key on a real SoftHSM2 token
/// (PII_LOCAL_KEK_PKCS11_*), or the software keyring (PII_LOCAL_KEK). The key on the token is made here, sensitive
/// and non-extractable, before any CLI process runs.
/// </summary>
public sealed class KekCommandTests : IAsyncLifetime
{
    private const string TokenLabel = "pii-cli-kek";
    private const string UserPin = "2468-user";
    private const string KeyLabel = "cli-kek";
    private SoftHsm _hsm = null!;
    private string _pinFile = "";

    public async Task InitializeAsync()
    {
        _hsm = await SoftHsm.CreateAsync();
        await _hsm.InitTokenAsync(TokenLabel, "so-1357", UserPin);
        _hsm.UseInThisProcess();
        _pinFile = Path.Combine(_hsm.Directory, "user.pin");
        await File.WriteAllTextAsync(_pinFile, UserPin + "\n");
        using var setup = Pkcs11Kek.Open("setup", Options(), generateIfMissing: true);
    }

    public Task DisposeAsync()
    {
        _hsm.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task A_DEK_is_wrapped_inside_the_token_and_only_that_key_and_name_unwrap_it()
    {
        byte[] dek = RandomNumberGenerator.GetBytes(32);
        var wrap = await RunAsync(Convert.ToHexString(dek), Pkcs11Settings(), "kek", "wrap", "--name", "dnc");
        Assert.Equal(0, wrap.ExitCode);
        string wrapped = wrap.Stdout.Trim();
        Assert.StartsWith("pkcs11:v1:", wrapped, StringComparison.Ordinal);

        var unwrap = await RunAsync(wrapped + "\n", Pkcs11Settings(), "kek", "unwrap", "--name", "dnc");
        Assert.Equal(0, unwrap.ExitCode);
        Assert.Equal(Convert.ToHexStringLower(dek), unwrap.Stdout.Trim());

        // The token's key made it: this process opens the same key and unwraps the CLI's output.
        using (var kek = Pkcs11Kek.Open("dnc", Options()))
        {
            Assert.Equal(dek, kek.Unwrap(new WrappedDek("dnc", Pkcs11Kek.Version, wrapped)));
        }

        // Bound to the KEK name; to a software keyring it is not even its text form.
        Assert.Equal(1, (await RunAsync(wrapped, Pkcs11Settings(), "kek", "unwrap", "--name", "documents")).ExitCode);
        var software = new Dictionary<string, string> { ["PII_LOCAL_KEK"] = Convert.ToHexString(RandomNumberGenerator.GetBytes(32)) };
        var notLocal = await RunAsync(wrapped, software, "kek", "unwrap", "--name", "dnc");
        Assert.Equal(2, notLocal.ExitCode);
        Assert.Empty(notLocal.Stdout);
    }

    [Fact]
    public async Task An_unusable_token_is_an_error_and_never_a_fallback_to_the_software_key()
    {
        string dek = Convert.ToHexString(RandomNumberGenerator.GetBytes(32));
        string wrongPin = Path.Combine(_hsm.Directory, "wrong.pin");
        await File.WriteAllTextAsync(wrongPin, "0000");

        var badPin = await RunAsync(dek, Pkcs11Settings(pinFile: wrongPin), "kek", "wrap", "--name", "dnc");
        Assert.Equal(1, badPin.ExitCode);
        Assert.Contains("PIN", badPin.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("0000", badPin.Stderr, StringComparison.Ordinal);
        Assert.Empty(badPin.Stdout);

        var noKey = await RunAsync(dek, Pkcs11Settings(keyLabel: "no-such-key"), "kek", "wrap", "--name", "dnc");
        Assert.Equal(1, noKey.ExitCode);
        Assert.Contains("no-such-key", noKey.Stderr, StringComparison.Ordinal);

        var noToken = await RunAsync(dek, Pkcs11Settings(tokenLabel: "no-such-token"), "kek", "wrap", "--name", "dnc");
        Assert.Equal(1, noToken.ExitCode);

        var both = new Dictionary<string, string>(Pkcs11Settings()) { ["PII_LOCAL_KEK"] = Convert.ToHexString(RandomNumberGenerator.GetBytes(32)) };
        Assert.Equal(2, (await RunAsync(dek, both, "kek", "wrap", "--name", "dnc")).ExitCode);
        var noLabel = new Dictionary<string, string>(Pkcs11Settings()) { [ConfiguredKek.KeyLabel] = "" };
        Assert.Equal(2, (await RunAsync(dek, noLabel, "kek", "wrap", "--name", "dnc")).ExitCode);
    }

    [Fact]
    public async Task Without_PKCS11_settings_the_software_keyring_wraps_and_without_any_there_is_no_KEK()
    {
        byte[] dek = RandomNumberGenerator.GetBytes(32);
        var software = new Dictionary<string, string> { ["PII_LOCAL_KEK"] = "v3=" + Convert.ToHexString(RandomNumberGenerator.GetBytes(32)) };
        var wrap = await RunAsync(Convert.ToHexString(dek), software, "kek", "wrap", "--name", "dnc");
        Assert.Equal(0, wrap.ExitCode);
        Assert.StartsWith("local:v3:", wrap.Stdout, StringComparison.Ordinal);
        Assert.Equal(Convert.ToHexStringLower(dek), (await RunAsync(wrap.Stdout, software, "kek", "unwrap", "--name", "dnc")).Stdout.Trim());

        Assert.Equal(2, (await RunAsync(Convert.ToHexString(dek), new Dictionary<string, string>(), "kek", "wrap", "--name", "dnc")).ExitCode);
    }

    private Pkcs11Options Options() => new() { LibraryPath = SoftHsm.LibraryPath, TokenLabel = TokenLabel, PinFile = _pinFile, KeyLabel = KeyLabel };

    private Dictionary<string, string> Pkcs11Settings(string? pinFile = null, string keyLabel = KeyLabel, string tokenLabel = TokenLabel) =>
        new(_hsm.Environment)
        {
            [ConfiguredKek.Library] = SoftHsm.LibraryPath,
            [ConfiguredKek.TokenLabel] = tokenLabel,
            [ConfiguredKek.PinFile] = pinFile ?? _pinFile,
            [ConfiguredKek.KeyLabel] = keyLabel,
        };

    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string stdin, IReadOnlyDictionary<string, string> environment, params string[] arguments)
    {
        var result = await PiiCliProcess.RunAsync(Encoding.UTF8.GetBytes(stdin), arguments, environment);
        return (result.ExitCode, Encoding.UTF8.GetString(result.Stdout), result.Stderr);
    }
}
