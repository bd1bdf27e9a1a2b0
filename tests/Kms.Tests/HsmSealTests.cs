using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Pii.Crypto.Pkcs11;
using Pii.Testing;

namespace Pii.Kms.Tests;

/// <summary>
/// The key service sealed by a real SoftHSM2 token (made by softhsm2-util in a private token directory): it starts
/// unsealed through the token, decrypts across a restart, and stays sealed, saying why, when the PIN is wrong, the
/// token is missing, the wrapped root key file is gone or the token key was removed. Each service is a child process
/// with its own SOFTHSM2_CONF.
/// </summary>
public sealed class HsmSealTests : IAsyncLifetime
{
    private const string TokenLabel = "kms-seal";
    private const string UserPin = "kms-user-pin-1";
    private SoftHsm _hsm = null!;
    private string _root = "";

    public async Task InitializeAsync()
    {
        _hsm = await SoftHsm.CreateAsync();
        await _hsm.InitTokenAsync(TokenLabel, "kms-so-pin-1", UserPin);
        _root = Directory.CreateTempSubdirectory("kms-hsm-").FullName;
        Directory.CreateDirectory(Path.Combine(_root, "data"));
        Directory.CreateDirectory(Path.Combine(_root, "secrets"));
        await File.WriteAllTextAsync(PinFile, UserPin + "\n");
    }

    public Task DisposeAsync()
    {
        _hsm.Dispose();
        Directory.Delete(_root, recursive: true);
        return Task.CompletedTask;
    }

    private string PinFile => Path.Combine(_root, "secrets", "hsm.pin");

    private string DbPath => Path.Combine(_root, "data", "kms.db");

    private string RootKeyFile => DbPath + ".root-key.hsm";

    private string WriteConfig(int port, string tokenLabel = TokenLabel)
    {
        var path = Path.Combine(_root, "kms.json");
        File.WriteAllText(path, new JsonObject
        {
            ["listener"] = new JsonObject { ["tcp"] = new JsonObject { ["address"] = $"127.0.0.1:{port}" } },
            ["storage"] = new JsonObject { ["sqlite"] = new JsonObject { ["path"] = DbPath } },
            ["seal"] = new JsonObject
            {
                ["pkcs11"] = new JsonObject
                {
                    ["lib"] = SoftHsm.LibraryPath,
                    ["token_label"] = tokenLabel,
                    ["pin_file"] = PinFile,
                    ["key_label"] = "kms-root",
                    ["generate_key"] = true,
                },
            },
            ["root_token_file"] = Path.Combine(_root, "secrets", "root-token"),
        }.ToJsonString());
        return path;
    }

    private async Task<KmsProcess> StartAsync(string tokenLabel = TokenLabel)
    {
        int port = KmsProcess.FreePort();
        return await KmsProcess.StartAsync(WriteConfig(port, tokenLabel), port, _hsm.Environment);
    }

    private HttpClient Client(KmsProcess kms)
    {
        var http = new HttpClient { BaseAddress = kms.Address, Timeout = TimeSpan.FromSeconds(30) };
        var token = Path.Combine(_root, "secrets", "root-token");
        if (File.Exists(token))
        {
            http.DefaultRequestHeaders.Add("X-Vault-Token", File.ReadAllText(token).Trim());
        }
        return http;
    }

    private static async Task<bool> IsSealedAsync(HttpClient http)
    {
        using var response = await http.GetAsync("v1/sys/health");
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal(body["sealed"]!.GetValue<bool>() ? HttpStatusCode.ServiceUnavailable : HttpStatusCode.OK, response.StatusCode);
        return body["sealed"]!.GetValue<bool>();
    }

    [Fact]
    public async Task Unseals_through_the_token_decrypts_across_restart_and_stays_sealed_without_pin_token_or_root_key_file()
    {
        string ciphertext;
        using (var kms = await StartAsync())
        using (var http = Client(kms))
        {
            Assert.False(await IsSealedAsync(http));
            (await http.PostAsync("v1/transit/keys/hsm-sealed", null)).EnsureSuccessStatusCode();
            using var encrypt = await http.PostAsJsonAsync("v1/transit/encrypt/hsm-sealed", new { plaintext = "aHNtLXNlYWxlZCBzZWNyZXQ=" });
            encrypt.EnsureSuccessStatusCode();
            ciphertext = JsonNode.Parse(await encrypt.Content.ReadAsStringAsync())!["data"]!["ciphertext"]!.GetValue<string>();
            await kms.WaitForOutputAsync("made a root key, wrapped by the token key 'kms-root'");
        }
        Assert.StartsWith("pkcs11:v1:", File.ReadAllText(RootKeyFile), StringComparison.Ordinal);

        using (var kms = await StartAsync())
        using (var http = Client(kms))
        {
            Assert.False(await IsSealedAsync(http));
            using var decrypt = await http.PostAsJsonAsync("v1/transit/decrypt/hsm-sealed", new { ciphertext });
            decrypt.EnsureSuccessStatusCode();
            Assert.Equal("aHNtLXNlYWxlZCBzZWNyZXQ=", JsonNode.Parse(await decrypt.Content.ReadAsStringAsync())!["data"]!["plaintext"]!.GetValue<string>());
        }

        await File.WriteAllTextAsync(PinFile, "not-the-pin\n");
        using (var kms = await StartAsync())
        using (var http = Client(kms))
        {
            Assert.True(await IsSealedAsync(http));
            string output = await kms.WaitForOutputAsync("HSM seal: Pin:");
            Assert.Contains("CKR_PIN_INCORRECT", output, StringComparison.Ordinal);
            Assert.DoesNotContain("not-the-pin", output, StringComparison.Ordinal);
        }
        await File.WriteAllTextAsync(PinFile, UserPin + "\n");

        using (var kms = await StartAsync(tokenLabel: "no-such-token"))
        using (var http = Client(kms))
        {
            Assert.True(await IsSealedAsync(http));
            Assert.Contains("'no-such-token'", await kms.WaitForOutputAsync("HSM seal: TokenNotFound:"), StringComparison.Ordinal);
        }

        string moved = RootKeyFile + ".moved";
        File.Move(RootKeyFile, moved);
        using (var kms = await StartAsync())
        using (var http = Client(kms))
        {
            Assert.True(await IsSealedAsync(http));
            await kms.WaitForOutputAsync("is missing for an existing store; refusing to make a new root key");
        }
        Assert.False(File.Exists(RootKeyFile));

        Directory.CreateDirectory(RootKeyFile);   // something unreadable where the file should be
        using (var kms = await StartAsync())
        using (var http = Client(kms))
        {
            Assert.True(await IsSealedAsync(http));
            await kms.WaitForOutputAsync("cannot be used (the file cannot be read or written");
        }
        Directory.Delete(RootKeyFile);
        File.Move(moved, RootKeyFile);

        using (var kms = await StartAsync())
        using (var http = Client(kms))
        {
            Assert.False(await IsSealedAsync(http));
        }
    }

    [Fact]
    public async Task A_removed_token_key_keeps_the_service_sealed_and_is_not_regenerated()
    {
        using (var kms = await StartAsync())
        using (var http = Client(kms))
        {
            Assert.False(await IsSealedAsync(http));
        }

        // Remove the key from the token in this process (the services are separate processes with their own module).
        _hsm.UseInThisProcess();
        var options = new Pkcs11Options { LibraryPath = SoftHsm.LibraryPath, TokenLabel = TokenLabel, PinFile = PinFile, KeyLabel = "kms-root" };
        using (var token = Pkcs11Token.Open(options))
        {
            token.DestroyAesKeys("kms-root");
        }

        using (var kms = await StartAsync())
        using (var http = Client(kms))
        {
            Assert.True(await IsSealedAsync(http));
            Assert.Contains("no AES key labelled 'kms-root'", await kms.WaitForOutputAsync("HSM seal: KeyNotFound:"), StringComparison.Ordinal);
        }

        // generate_key is set, but the store exists: the key must not have been re-created behind the operator's back.
        using (var token = Pkcs11Token.Open(options))
        {
            Assert.Equal(HsmFailure.KeyNotFound, Assert.Throws<HsmException>(() => token.FindAesKey("kms-root")).Failure);
        }
    }

    [Fact]
    public void A_config_with_both_a_master_key_and_an_hsm_seal_is_refused_and_the_seal_defaults_are_read()
    {
        var config = JsonNode.Parse(File.ReadAllText(WriteConfig(8200)))!.AsObject();
        var sealedOnly = Hosting.KmsSettings.FromFile(Path.Combine(_root, "kms.json"));
        Assert.Equal(RootKeyFile, sealedOnly.Pkcs11Seal!.RootKeyFile);
        Assert.Equal((TokenLabel, "kms-root", true), (sealedOnly.Pkcs11Seal.Options.TokenLabel, sealedOnly.Pkcs11Seal.Options.KeyLabel, sealedOnly.Pkcs11Seal.GenerateKey));

        config["master_key"] = new JsonObject { ["file"] = Path.Combine(_root, "secrets", "master.key") };
        var both = Path.Combine(_root, "both.json");
        File.WriteAllText(both, config.ToJsonString());
        Assert.Contains("either master_key or seal.pkcs11", Assert.Throws<InvalidDataException>(() => Hosting.KmsSettings.FromFile(both)).Message, StringComparison.Ordinal);
    }
}
