using System.Text.Json.Nodes;
using Pii.Crypto.Transit;

namespace Pii.Kms.Tests;

/// <summary>Start-up contracts: dev mode flags, ASPNETCORE_URLS precedence, bootstrap tokens, master key placement.</summary>
public sealed class HostingTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("kms-hosting-").FullName;

    [Fact]
    public async Task Dev_mode_starts_with_the_given_root_token_and_a_ready_transit_mount()
    {
        var port = KmsProcess.FreePort();
        using var kms = await KmsProcess.StartAsync(["-dev", "-dev-root-token-id=ROOT", $"-dev-listen-address=127.0.0.1:{port}"], port);
        var client = new TransitClient(new HttpClient(), new TransitClientOptions { Address = kms.Address, Token = "ROOT" });
        var ct = await client.EncryptAsync("upserted", "dev"u8.ToArray());
        Assert.Equal("dev"u8.ToArray(), await client.DecryptAsync("upserted", ct.Ciphertext));
    }

    [Fact]
    public async Task Aspnetcore_urls_wins_over_the_listener_and_bootstrap_tokens_get_their_policies()
    {
        var configuredPort = KmsProcess.FreePort();
        var assignedPort = KmsProcess.FreePort();
        Directory.CreateDirectory(Path.Combine(_root, "data"));
        Directory.CreateDirectory(Path.Combine(_root, "secrets"));
        var masterKey = Path.Combine(_root, "secrets", "master.key");
        await File.WriteAllTextAsync(masterKey, Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)));
        var etlTokenFile = Path.Combine(_root, "secrets", "etl.token");
        var config = JsonNode.Parse(KmsServerFixture.ConfigJson(Path.Combine(_root, "data", "kms.db"), masterKey, Path.Combine(_root, "data", "audit.log"), Path.Combine(_root, "secrets", "root"), $"127.0.0.1:{configuredPort}"))!;
        config["tokens"] = new JsonArray(new JsonObject { ["file"] = etlTokenFile, ["policies"] = new JsonArray("etl") });
        var configFile = Path.Combine(_root, "kms.json");
        await File.WriteAllTextAsync(configFile, config.ToJsonString());

        using var kms = await KmsProcess.StartAsync(configFile, assignedPort, new Dictionary<string, string> { ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{assignedPort}" });
        var etl = new TransitClient(new HttpClient(), new TransitClientOptions { Address = kms.Address, TokenFile = etlTokenFile, MaxRetries = 0 });
        var root = new TransitClient(new HttpClient(), new TransitClientOptions { Address = kms.Address, TokenFile = Path.Combine(_root, "secrets", "root") });
        var ct = await root.EncryptAsync("dnc", "x"u8.ToArray());
        Assert.Equal("x"u8.ToArray(), await etl.DecryptAsync("dnc", ct.Ciphertext));
        await Assert.ThrowsAsync<TransitForbiddenException>(() => etl.EncryptAsync("dnc", "x"u8.ToArray()));
    }

    [Fact]
    public async Task A_master_key_file_beside_the_database_is_refused_and_the_service_stays_sealed()
    {
        var data = Directory.CreateDirectory(Path.Combine(_root, "beside")).FullName;
        var masterKey = Path.Combine(data, "master.key");
        await File.WriteAllTextAsync(masterKey, Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)));
        var configFile = Path.Combine(_root, "beside.json");
        await File.WriteAllTextAsync(configFile, KmsServerFixture.ConfigJson(Path.Combine(data, "kms.db"), masterKey, Path.Combine(data, "audit.log"), Path.Combine(_root, "root"), "127.0.0.1:0"));
        using var factory = new Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactory<Program>()
            .WithWebHostBuilder(b => b.UseSetting("Kms:ConfigFile", configFile));
        using var http = factory.CreateClient();
        var health = await VaultReply.Send(http, "GET", "sys/health", null);
        Assert.Equal(503, health.Status);
        Assert.True(health.Body!["sealed"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Settings_can_come_from_configuration_keys_without_a_file()
    {
        var data = Directory.CreateDirectory(Path.Combine(_root, "cfg-data")).FullName;
        var secrets = Directory.CreateDirectory(Path.Combine(_root, "cfg-secrets")).FullName;
        await File.WriteAllTextAsync(Path.Combine(secrets, "master.key"), Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)));
        using var factory = new Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactory<Program>().WithWebHostBuilder(b => b
            .UseSetting("Kms:StoragePath", Path.Combine(data, "kms.db"))
            .UseSetting("Kms:MasterKeyFile", Path.Combine(secrets, "master.key"))
            .UseSetting("Kms:AuditPath", Path.Combine(data, "audit.log"))
            .UseSetting("Kms:RootTokenFile", Path.Combine(secrets, "root")));
        using var http = factory.CreateClient();
        var token = await File.ReadAllTextAsync(Path.Combine(secrets, "root"));
        Assert.Equal(200, (await VaultReply.Send(http, "POST", "transit/keys/from-config", token)).Status);
        Assert.True(File.Exists(Path.Combine(data, "audit.log")));
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
            // A killed child may still hold the SQLite WAL for a moment.
        }
    }
}
