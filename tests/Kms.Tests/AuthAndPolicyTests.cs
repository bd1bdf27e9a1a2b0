using System.Text.Json.Nodes;

namespace Pii.Kms.Tests;

/// <summary>Tokens, ACL policies and the shipped separation-of-duties policies, over HTTP.</summary>
public sealed class AuthAndPolicyTests(KmsServerFixture server) : IClassFixture<KmsServerFixture>
{
    private static readonly string ShippedPolicies = Path.Combine(AppContext.BaseDirectory, "policies");

    [Fact]
    public async Task Missing_and_bogus_tokens_are_403_with_vaults_messages()
    {
        var none = await server.Send("POST", "transit/keys/x", null);
        Assert.Equal(403, none.Status);
        Assert.Contains("permission denied", none.Errors);
        var bogus = await server.Send("POST", "transit/keys/x", "hvs.bogus");
        Assert.Equal(403, bogus.Status);
        Assert.Contains("permission denied", bogus.Errors);
        Assert.Contains("invalid token", bogus.Errors);
        Assert.Equal(404, (await server.AsRoot("GET", "transit/keys/x")).Status);
    }

    [Fact]
    public async Task Policies_round_trip_as_hcl_and_json_and_tokens_carry_them()
    {
        var hcl = "path \"transit/encrypt/p1\" {\n  capabilities = [\"update\"]\n}\n";
        Assert.Equal(204, (await server.AsRoot("PUT", "sys/policies/acl/p1-enc", new { policy = hcl })).Status);
        var read = await server.AsRoot("GET", "sys/policies/acl/p1-enc");
        Assert.Equal(hcl, read.Data["policy"]!.GetValue<string>());
        Assert.Equal("p1-enc", read.Data["name"]!.GetValue<string>());
        var json = """{"path":{"transit/decrypt/p1":{"capabilities":["update"]}}}""";
        Assert.Equal(204, (await server.AsRoot("PUT", "sys/policies/acl/p1-dec", new { policy = json })).Status);
        Assert.Equal(400, (await server.AsRoot("PUT", "sys/policies/acl/bad", new { policy = "path \"x\" { capabilities = [\"fly\"] }" })).Status);
        Assert.Equal(400, (await server.AsRoot("PUT", "sys/policies/acl/bad", new { policy = "path { " })).Status);

        await server.AsRoot("POST", "transit/keys/p1");
        var encToken = await server.TokenWith("p1-enc");
        var decToken = await server.TokenWith("p1-dec");
        var lookup = await server.Send("GET", "auth/token/lookup-self", encToken);
        Assert.Equal(200, lookup.Status);
        Assert.Contains("p1-enc", lookup.Data["policies"]!.AsArray().Select(p => p!.GetValue<string>()));

        var ct = await server.Send("POST", "transit/encrypt/p1", encToken, new { plaintext = "aGk=" });
        Assert.Equal(200, ct.Status);
        var ciphertext = ct.Data["ciphertext"]!.GetValue<string>();
        Assert.Equal(403, (await server.Send("POST", "transit/decrypt/p1", encToken, new { ciphertext })).Status);
        Assert.Equal(200, (await server.Send("POST", "transit/decrypt/p1", decToken, new { ciphertext })).Status);
        Assert.Equal(403, (await server.Send("POST", "transit/encrypt/p1", decToken, new { plaintext = "aGk=" })).Status);
    }

    [Fact]
    public async Task Encrypt_to_a_missing_key_needs_create_and_upserts()
    {
        await server.AsRoot("PUT", "sys/policies/acl/upd-only", new { policy = "path \"transit/encrypt/*\" { capabilities = [\"update\"] }" });
        await server.AsRoot("PUT", "sys/policies/acl/creator", new { policy = "path \"transit/encrypt/*\" { capabilities = [\"create\", \"update\"] }" });
        var updateOnly = await server.TokenWith("upd-only");
        var creator = await server.TokenWith("creator");
        var name = "upsert" + Guid.NewGuid().ToString("N")[..8];

        var denied = await server.Send("POST", "transit/encrypt/" + name, updateOnly, new { plaintext = "aGk=" });
        Assert.Equal(403, denied.Status);
        Assert.Equal(404, (await server.AsRoot("GET", "transit/keys/" + name)).Status);

        var created = await server.Send("POST", "transit/encrypt/" + name, creator, new { plaintext = "aGk=", context = "Y3R4" });
        Assert.Equal(200, created.Status);
        var info = await server.AsRoot("GET", "transit/keys/" + name);
        Assert.True(info.Data["derived"]!.GetValue<bool>());
        Assert.Equal(200, (await server.Send("POST", "transit/encrypt/" + name, updateOnly, new { plaintext = "aGk=", context = "Y3R4" })).Status);
    }

    [Fact]
    public async Task Disable_upsert_makes_encrypt_to_a_missing_key_a_400()
    {
        using var isolated = new KmsServerFixture();
        Assert.False((await isolated.AsRoot("GET", "transit/config/keys")).Data["disable_upsert"]!.GetValue<bool>());
        var set = await isolated.AsRoot("POST", "transit/config/keys", new { disable_upsert = true });
        Assert.True(set.Data["disable_upsert"]!.GetValue<bool>());
        var reply = await isolated.AsRoot("POST", "transit/encrypt/not-there", new { plaintext = "aGk=" });
        Assert.Equal(400, reply.Status);
        Assert.Contains("encryption key not found", reply.Errors);
        Assert.Equal(404, (await isolated.AsRoot("GET", "transit/keys/not-there")).Status);
    }

    [Fact]
    public async Task Token_create_rules_id_only_for_root_and_child_policies_subset()
    {
        var custom = "tok-" + Guid.NewGuid().ToString("N");
        var created = await server.AsRoot("POST", "auth/token/create", new { policies = new[] { "etl" }, id = custom, ttl = "1h" });
        Assert.Equal(200, created.Status);
        Assert.Null(created.Body!["data"]);
        Assert.Equal(custom, created.Body!["auth"]!["client_token"]!.GetValue<string>());
        Assert.InRange(created.Body!["auth"]!["lease_duration"]!.GetValue<long>(), 3500, 3600);

        await server.AsRoot("PUT", "sys/policies/acl/token-maker", new { policy = "path \"auth/token/create\" { capabilities = [\"update\"] }" });
        var maker = await server.TokenWith("token-maker");
        Assert.Equal(400, (await server.Send("POST", "auth/token/create", maker, new { policies = new[] { "operator" } })).Status);
        Assert.Equal(400, (await server.Send("POST", "auth/token/create", maker, new { policies = new[] { "token-maker" }, id = "chosen" })).Status);
        Assert.Equal(200, (await server.Send("POST", "auth/token/create", maker, new { policies = new[] { "token-maker" } })).Status);
        Assert.Equal(403, (await server.Send("POST", "auth/token/create", await server.TokenWith("etl"), new { })).Status);
    }

    [Fact]
    public async Task Tokens_are_stored_hashed_never_in_clear()
    {
        var token = await server.TokenWith("etl");
        var db = await File.ReadAllBytesAsync(Path.Combine(server.Root, "data", "kms.db"));
        var wal = Path.Combine(server.Root, "data", "kms.db-wal");
        var all = db.Concat(File.Exists(wal) ? await ReadShared(wal) : []).ToArray();
        Assert.Equal(-1, all.AsSpan().IndexOf(System.Text.Encoding.UTF8.GetBytes(token)));
        Assert.Equal(-1, all.AsSpan().IndexOf(System.Text.Encoding.UTF8.GetBytes(server.RootToken)));
    }

    [Theory]
    [InlineData("dnc-intake", "POST", "transit/datakey/plaintext/dnc", true)]
    [InlineData("dnc-intake", "POST", "transit/datakey/wrapped/dnc", false)]
    [InlineData("dnc-intake", "POST", "transit/decrypt/dnc", false)]
    [InlineData("dnc-intake", "POST", "transit/encrypt/dnc", false)]
    [InlineData("dnc-intake", "POST", "transit/rewrap/dnc", false)]
    [InlineData("dnc-intake", "POST", "transit/keys/dnc/rotate", false)]
    [InlineData("dnc-intake", "GET", "transit/keys/dnc", false)]
    [InlineData("etl", "POST", "transit/decrypt/dnc", true)]
    [InlineData("etl", "POST", "transit/encrypt/dnc", false)]
    [InlineData("etl", "POST", "transit/datakey/plaintext/dnc", false)]
    [InlineData("etl", "POST", "transit/datakey/wrapped/dnc", false)]
    [InlineData("etl", "POST", "transit/keys/dnc/rotate", false)]
    // The intake's blind-index key, only to recognise quarantined rows (issue 5); it already decrypts every row.
    [InlineData("etl", "POST", "transit/hmac/dnc/sha2-256", true)]
    [InlineData("etl", "POST", "transit/hmac/dnc", false)]
    [InlineData("dnc-backoffice", "POST", "transit/decrypt/dnc", true)]
    [InlineData("dnc-backoffice", "POST", "transit/keys/dnc/rotate", true)]
    [InlineData("dnc-backoffice", "POST", "transit/rewrap/dnc", true)]
    // The back office makes the new DEK of a DEK rotation (issue 5); it already unwraps every DEK, so this adds no read power.
    [InlineData("dnc-backoffice", "POST", "transit/datakey/plaintext/dnc", true)]
    [InlineData("dnc-backoffice", "POST", "transit/datakey/wrapped/dnc", false)]
    [InlineData("dnc-backoffice", "POST", "transit/keys/dnc/config", false)]
    [InlineData("dnc-backoffice", "POST", "transit/keys/dnc/trim", false)]
    [InlineData("dnc-backoffice", "DELETE", "transit/keys/dnc", false)]
    [InlineData("documents", "POST", "transit/datakey/plaintext/documents", true)]
    [InlineData("documents", "POST", "transit/decrypt/documents", true)]
    [InlineData("documents", "POST", "transit/decrypt/dnc", false)]
    [InlineData("documents", "POST", "transit/decrypt/backups", false)]
    [InlineData("documents", "POST", "transit/keys/documents/rotate", false)]
    [InlineData("backups", "POST", "transit/datakey/plaintext/backups", true)]
    [InlineData("backups", "POST", "transit/decrypt/backups", true)]
    [InlineData("backups", "POST", "transit/decrypt/documents", false)]
    [InlineData("backups", "POST", "transit/decrypt/dnc", false)]
    [InlineData("operator", "POST", "transit/keys/dnc/rotate", true)]
    [InlineData("operator", "POST", "transit/keys/dnc/config", true)]
    [InlineData("operator", "POST", "transit/datakey/plaintext/dnc", true)]
    [InlineData("operator", "PUT", "sys/policies/acl/scratch", true)]
    public async Task Shipped_policies_allow_exactly_their_duties_and_forbidden_calls_change_nothing(string policy, string method, string path, bool allowed)
    {
        foreach (var k in new[] { "dnc", "documents", "backups" })
        {
            await server.AsRoot("POST", "transit/keys/" + k);
        }

        var token = await server.TokenWith(policy);
        var before = await KeyStates();
        var key = path.Split('/')[^1] is var last && last is "rotate" or "config" or "trim" ? path.Split('/')[2] : path.Split('/')[^1];
        var ciphertext = (await server.AsRoot("POST", "transit/encrypt/" + key, new { plaintext = "aGk=" })).Data["ciphertext"]?.GetValue<string>();
        object body = path.StartsWith("sys/", StringComparison.Ordinal)
            ? new { policy = "path \"x\" { capabilities = [\"read\"] }" }
            : path.EndsWith("/trim", StringComparison.Ordinal) ? new { min_available_version = 1 }
            : new { ciphertext, plaintext = "aGk=", min_decryption_version = 1 };
        var reply = await server.Send(method, path, token, body);
        if (allowed)
        {
            Assert.NotEqual(403, reply.Status);
        }
        else
        {
            Assert.Equal(403, reply.Status);
            Assert.Contains("permission denied", reply.Errors);
            Assert.Equal(before, await KeyStates());
        }
    }

    [Fact]
    public async Task Shipped_policy_files_are_installed_and_match_the_repository_text()
    {
        foreach (var file in Directory.EnumerateFiles(ShippedPolicies, "*.hcl"))
        {
            var name = Path.GetFileNameWithoutExtension(file);
            var reply = await server.AsRoot("GET", "sys/policies/acl/" + name);
            Assert.Equal(200, reply.Status);
            Assert.Equal(await File.ReadAllTextAsync(file), reply.Data["policy"]!.GetValue<string>());
        }

        Assert.Equal(6, Directory.EnumerateFiles(ShippedPolicies, "*.hcl").Count());
    }

    private async Task<string> KeyStates()
    {
        var states = new List<string>();
        foreach (var k in new[] { "dnc", "documents", "backups" })
        {
            var info = (await server.AsRoot("GET", "transit/keys/" + k)).Body!["data"]!.AsObject();
            states.Add(info.ToJsonString());
        }

        var policies = await server.AsRoot("LIST", "sys/policies/acl");
        states.Add(policies.Data["keys"]!.ToJsonString());
        return string.Join("\n", states);
    }

    private static async Task<byte[]> ReadShared(string path)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var buffer = new MemoryStream();
        await stream.CopyToAsync(buffer);
        return buffer.ToArray();
    }
}
