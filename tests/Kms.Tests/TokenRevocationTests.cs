using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Pii.Kms.Tests;

/// <summary>
/// <c>auth/token/revoke</c> and <c>revoke-self</c> as Vault answers them (204 whether or not the token existed, 400
/// "missing token ID"), by accessor, revocation of a token's children, orphans, and revocation that survives a restart
/// even when a token file still holds the token.
/// </summary>
public sealed class TokenRevocationTests(KmsServerFixture server) : IClassFixture<KmsServerFixture>
{
    [Fact]
    public async Task A_revoked_token_is_refused_and_unknown_or_missing_tokens_answer_as_vault_does()
    {
        var token = await server.TokenWith("etl");
        Assert.Equal(200, (await server.Send("GET", "auth/token/lookup-self", token)).Status);

        Assert.Equal(204, (await server.AsRoot("POST", "auth/token/revoke", new { token })).Status);
        // The audit device keeps the revoked token's value only as an HMAC.
        var audit = await File.ReadAllTextAsync(server.AuditPath);
        Assert.Contains("auth/token/revoke", audit, StringComparison.Ordinal);
        Assert.DoesNotContain(token, audit, StringComparison.Ordinal);

        var refused = await server.Send("GET", "auth/token/lookup-self", token);
        Assert.Equal(403, refused.Status);
        Assert.Contains("invalid token", refused.Errors);
        Assert.Equal(204, (await server.AsRoot("POST", "auth/token/revoke", new { token = "hvs.neverissued" })).Status);
        var missing = await server.AsRoot("POST", "auth/token/revoke", new { });
        Assert.Equal(400, missing.Status);
        Assert.Equal(["missing token ID"], missing.Errors);
        var reused = await server.AsRoot("POST", "auth/token/create", new { id = token, policies = new[] { "etl" } });
        Assert.Equal(400, reused.Status);
    }

    [Fact]
    public async Task Any_token_may_revoke_itself()
    {
        var token = await server.TokenWith("etl");

        Assert.Equal(204, (await server.Send("POST", "auth/token/revoke-self", token)).Status);

        Assert.Equal(403, (await server.Send("GET", "auth/token/lookup-self", token)).Status);
    }

    [Fact]
    public async Task Operators_list_look_up_and_revoke_by_accessor_without_holding_the_token()
    {
        var created = await server.AsRoot("POST", "auth/token/create", new { policies = new[] { "etl" }, display_name = "etlworker" });
        var token = created.Body!["auth"]!["client_token"]!.GetValue<string>();
        var accessor = created.Body!["auth"]!["accessor"]!.GetValue<string>();
        var operatorToken = await server.TokenWith("operator");

        var listed = await server.Send("LIST", "auth/token/accessors", operatorToken);
        Assert.Equal(200, listed.Status);
        Assert.Contains(accessor, listed.Data["keys"]!.AsArray().Select(k => k!.GetValue<string>()));
        Assert.Equal(403, (await server.Send("LIST", "auth/token/accessors", token)).Status);
        var looked = await server.Send("POST", "auth/token/lookup-accessor", operatorToken, new { accessor });
        Assert.Equal(200, looked.Status);
        Assert.Equal("etlworker", looked.Data["display_name"]!.GetValue<string>());
        Assert.Equal("", looked.Data["id"]!.GetValue<string>());
        Assert.DoesNotContain(token, looked.Text, StringComparison.Ordinal);

        Assert.Equal(204, (await server.Send("POST", "auth/token/revoke-accessor", operatorToken, new { accessor })).Status);

        Assert.Equal(403, (await server.Send("GET", "auth/token/lookup-self", token)).Status);
        var gone = await server.Send("POST", "auth/token/lookup-accessor", operatorToken, new { accessor });
        Assert.Equal(400, gone.Status);
        Assert.Equal(["invalid accessor"], gone.Errors);
        var missing = await server.Send("POST", "auth/token/revoke-accessor", operatorToken, new { });
        Assert.Equal(["missing accessor"], missing.Errors);
    }

    [Fact]
    public async Task Revoking_needs_the_capability_and_a_refusal_changes_nothing()
    {
        var victim = await server.TokenWith("etl");
        var other = await server.TokenWith("etl");

        Assert.Equal(403, (await server.Send("POST", "auth/token/revoke", other, new { token = victim })).Status);

        Assert.Equal(200, (await server.Send("GET", "auth/token/lookup-self", victim)).Status);
    }

    [Fact]
    public async Task Revoking_a_parent_revokes_its_children_but_not_orphans()
    {
        var parent = await server.TokenWith("operator", "etl");
        var created = await server.Send("POST", "auth/token/create", parent, new { policies = new[] { "operator", "etl" } });
        Assert.True(created.Status == 200, created.Text);
        var child = created.Body!["auth"]!["client_token"]!.GetValue<string>();
        var grandchild = (await server.Send("POST", "auth/token/create", child, new { policies = new[] { "etl" } })).Body!["auth"]!["client_token"]!.GetValue<string>();
        var orphan = await server.AsRoot("POST", "auth/token/create", new { policies = new[] { "etl" }, no_parent = true });
        Assert.True(orphan.Body!["auth"]!["orphan"]!.GetValue<bool>());
        var orphanFromOperator = await server.Send("POST", "auth/token/create", parent, new { policies = new[] { "etl" }, no_parent = true });
        Assert.Equal(400, orphanFromOperator.Status);
        Assert.Equal(["root or sudo privileges required to create orphan token"], orphanFromOperator.Errors);

        Assert.Equal(204, (await server.AsRoot("POST", "auth/token/revoke", new { token = parent })).Status);

        foreach (var gone in new[] { parent, child, grandchild })
        {
            Assert.Equal(403, (await server.Send("GET", "auth/token/lookup-self", gone)).Status);
        }

        var survivor = orphan.Body!["auth"]!["client_token"]!.GetValue<string>();
        Assert.Equal(200, (await server.Send("GET", "auth/token/lookup-self", survivor)).Status);
    }

    [Fact]
    public void A_token_stored_before_parents_were_recorded_reads_as_an_orphan()
    {
        const string before = """{"Hash":"h","Accessor":"a","Policies":["etl"],"CreatedUnixSeconds":1,"ExpiresUnixSeconds":null,"DisplayName":"t"}""";

        var entry = System.Text.Json.JsonSerializer.Deserialize(before, Pii.Kms.Storage.StoreJsonContext.Default.TokenEntry)!;

        Assert.Null(entry.ParentHash);
        Assert.Equal(["etl"], entry.Policies);
    }

    [Fact]
    public async Task Revocation_survives_a_restart_and_a_token_file_does_not_bring_the_token_back()
    {
        var root = Directory.CreateTempSubdirectory("kms-revoke-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(root, "data"));
            var masterKey = Path.Combine(root, "master.key");
            await File.WriteAllTextAsync(masterKey, Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)));
            var rootTokenFile = Path.Combine(root, "root-token");
            var serviceTokenFile = Path.Combine(root, "etl-token");
            var config = JsonNode.Parse(KmsServerFixture.ConfigJson(Path.Combine(root, "data", "kms.db"), masterKey, Path.Combine(root, "data", "audit.log"), rootTokenFile, "127.0.0.1:0"))!;
            config["tokens"] = new JsonArray(new JsonObject { ["file"] = serviceTokenFile, ["policies"] = new JsonArray("etl") });
            var configFile = Path.Combine(root, "kms.json");
            await File.WriteAllTextAsync(configFile, config.ToJsonString());

            // Each call is one start of the service on the same store and config.
            async Task<T> Started<T>(Func<HttpClient, Task<T>> use)
            {
                using var factory = new WebApplicationFactory<Program>().WithWebHostBuilder(b => b.UseSetting("Kms:ConfigFile", configFile));
                using var http = factory.CreateClient();
                return await use(http);
            }

            Task<int> LookupStatus(string token) =>
                Started(async http => (await VaultReply.Send(http, "GET", "auth/token/lookup-self", token)).Status);

            var first = await Started(async http =>
            {
                var token = (await File.ReadAllTextAsync(serviceTokenFile)).Trim();
                Assert.Equal(200, (await VaultReply.Send(http, "GET", "auth/token/lookup-self", token)).Status);
                var rootToken = (await File.ReadAllTextAsync(rootTokenFile)).Trim();
                Assert.Equal(204, (await VaultReply.Send(http, "POST", "auth/token/revoke", rootToken, new { token })).Status);
                return token;
            });

            Assert.Equal(403, await LookupStatus(first));
            Assert.Equal(first, (await File.ReadAllTextAsync(serviceTokenFile)).Trim());

            File.Delete(serviceTokenFile);
            Assert.Equal(403, await LookupStatus(first));
            var second = (await File.ReadAllTextAsync(serviceTokenFile)).Trim();
            Assert.NotEqual(first, second);
            Assert.Equal(200, await LookupStatus(second));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
