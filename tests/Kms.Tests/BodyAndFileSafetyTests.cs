using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting;

namespace Pii.Kms.Tests;

public sealed class BodyAndFileSafetyTests : IDisposable
{
    private readonly KmsServerFixture _server = new();

    public void Dispose() => _server.Dispose();

    public static TheoryData<string, string> MalformedBodies => new()
    {
        { "invalid UTF-8", "7B22706C61696E74657874223A2261FF476B3D227D" },              // {"plaintext":"a\xFFGk="}
        { "truncated UTF-8 sequence", "7B22706C61696E74657874223A22E282227D" },          // {"plaintext":"\xE2\x82"}
        { "lone surrogate escape", "7B22706C61696E74657874223A225C7564383030227D" },    // {"plaintext":"\ud800"}
        { "duplicate key", "7B22706C61696E74657874223A2261476B3D222C22706C61696E74657874223A2261476B3D227D" },
        { "duplicate key in a batch item", "7B2262617463685F696E707574223A5B7B2261223A312C2261223A327D5D7D" }, // {"batch_input":[{"a":1,"a":2}]}
    };

    [Theory]
    [MemberData(nameof(MalformedBodies))]
    public async Task A_malformed_body_is_a_400_in_vault_shape_and_is_audited(string what, string hex)
    {
        Assert.Equal(200, (await _server.AsRoot("POST", "transit/keys/k")).Status);
        var before = File.ReadAllLines(_server.AuditPath).Length;
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/transit/encrypt/k") { Content = new ByteArrayContent(Convert.FromHexString(hex)) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.Add("X-Vault-Token", _server.RootToken);
        using var response = await _server.Client.SendAsync(request);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.True((int)response.StatusCode == 400, what);
        Assert.StartsWith("failed to parse JSON input", body["errors"]![0]!.GetValue<string>(), StringComparison.Ordinal);

        var lines = File.ReadAllLines(_server.AuditPath).Skip(before).Select(l => JsonNode.Parse(l)!).ToList();
        Assert.Equal(["request", "response"], lines.Select(l => l["type"]!.GetValue<string>()));
        Assert.Equal("transit/encrypt/k", lines[0]["request"]!["path"]!.GetValue<string>());
        Assert.Equal(400, lines[1]["response"]!["status_code"]!.GetValue<int>());
    }

    [Fact]
    public async Task Store_and_audit_log_are_owner_only_and_their_new_directories_0700()
    {
        var root = Directory.CreateTempSubdirectory("kms-modes-").FullName;
        try
        {
            var secrets = Path.Combine(root, "secrets");
            Directory.CreateDirectory(secrets);
            var keyFile = Path.Combine(secrets, "master.key");
            await File.WriteAllTextAsync(keyFile, Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)));
            var dataDir = Path.Combine(root, "new", "data");
            var auditDir = Path.Combine(root, "new-log");
            var config = Path.Combine(root, "kms.json");
            await File.WriteAllTextAsync(config, KmsServerFixture.ConfigJson(Path.Combine(dataDir, "kms.db"), keyFile, Path.Combine(auditDir, "audit.log"),
                Path.Combine(secrets, "root-token"), "127.0.0.1:0"));
            using var factory = new Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactory<Program>()
                .WithWebHostBuilder(b => b.UseSetting("Kms:ConfigFile", config));
            using var client = factory.CreateClient();
            var token = (await File.ReadAllTextAsync(Path.Combine(secrets, "root-token"))).Trim();
            Assert.Equal(200, (await VaultReply.Send(client, "POST", "transit/keys/k", token)).Status);

            const UnixFileMode ownerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            const UnixFileMode ownerDirectory = ownerOnly | UnixFileMode.UserExecute;
            foreach (var file in new[] { "kms.db", "kms.db-wal", "kms.db-shm" })
            {
                Assert.Equal(ownerOnly, File.GetUnixFileMode(Path.Combine(dataDir, file)));
            }

            Assert.Equal(ownerOnly, File.GetUnixFileMode(Path.Combine(auditDir, "audit.log")));
            Assert.Equal(ownerDirectory, File.GetUnixFileMode(dataDir));
            Assert.Equal(ownerDirectory, File.GetUnixFileMode(Path.GetDirectoryName(dataDir)!));
            Assert.Equal(ownerDirectory, File.GetUnixFileMode(auditDir));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task A_store_left_world_readable_is_tightened_at_start()
    {
        var db = Path.Combine(_server.Root, "data", "kms.db");
        Assert.Equal(200, (await _server.AsRoot("POST", "transit/keys/k")).Status);
        File.SetUnixFileMode(db, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, await ModeAfterRestart(db));
    }

    private async Task<UnixFileMode> ModeAfterRestart(string db)
    {
        // The audit log admits one writer: stop the first instance before starting the second on the same files.
        _server.Factory.Dispose();
        using var second = new Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactory<Program>()
            .WithWebHostBuilder(b => b.UseSetting("Kms:ConfigFile", _server.ConfigFile));
        using var client = second.CreateClient();
        Assert.Equal(200, (await VaultReply.Send(client, "GET", "sys/health", null)).Status);
        return File.GetUnixFileMode(db);
    }
}
