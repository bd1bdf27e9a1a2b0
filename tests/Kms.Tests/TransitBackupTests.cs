namespace Pii.Kms.Tests;

/// <summary>transit/backup, transit/restore and transit/export over the real HTTP API.</summary>
public sealed class TransitBackupTests(KmsServerFixture server) : IClassFixture<KmsServerFixture>
{
    private static readonly string[] ServicePolicies = ["dnc-intake", "etl", "dnc-backoffice", "documents", "backups"];

    private static string B64(string s) => Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(s));

    private static string NewName() => "bk-" + Guid.NewGuid().ToString("N")[..8];

    [Fact]
    public async Task Backup_needs_exportable_and_plaintext_backup_which_cannot_be_unset()
    {
        var key = NewName();
        await server.AsRoot("POST", "transit/keys/" + key);
        var refused = await server.AsRoot("GET", "transit/backup/" + key);
        Assert.Equal(400, refused.Status);
        Assert.Contains("exporting is disallowed on the policy", refused.Errors);

        var exportable = await server.AsRoot("POST", $"transit/keys/{key}/config", new { exportable = true });
        Assert.True(exportable.Data["exportable"]!.GetValue<bool>());
        Assert.Contains("plaintext backup is disallowed on the policy", (await server.AsRoot("GET", "transit/backup/" + key)).Errors);

        var both = await server.AsRoot("POST", $"transit/keys/{key}/config", new { allow_plaintext_backup = true });
        Assert.True(both.Data["allow_plaintext_backup"]!.GetValue<bool>());
        Assert.Equal(200, (await server.AsRoot("GET", "transit/backup/" + key)).Status);

        Assert.Contains("exportable key cannot be made non-exportable",
            (await server.AsRoot("POST", $"transit/keys/{key}/config", new { exportable = false })).Errors);
        Assert.Contains("plaintext backups cannot be disabled once enabled",
            (await server.AsRoot("POST", $"transit/keys/{key}/config", new { allow_plaintext_backup = false })).Errors);
        Assert.Equal(400, (await server.AsRoot("GET", "transit/backup/no-such-key")).Status);
    }

    [Fact]
    public async Task A_key_backed_up_deleted_and_restored_decrypts_its_old_ciphertext()
    {
        var key = NewName();
        var created = await server.AsRoot("POST", "transit/keys/" + key, new { exportable = true, allow_plaintext_backup = true, auto_rotate_period = "24h" });
        Assert.Equal(200, created.Status);
        var v1 = (await server.AsRoot("POST", "transit/encrypt/" + key, new { plaintext = B64("version one") })).Data["ciphertext"]!.GetValue<string>();
        await server.AsRoot("POST", $"transit/keys/{key}/rotate");
        var v2 = (await server.AsRoot("POST", "transit/encrypt/" + key, new { plaintext = B64("version two") })).Data["ciphertext"]!.GetValue<string>();
        var hmac = (await server.AsRoot("POST", "transit/hmac/" + key, new { input = B64("index me") })).Data["hmac"]!.GetValue<string>();
        var backup = (await server.AsRoot("GET", "transit/backup/" + key)).Data["backup"]!.GetValue<string>();
        var document = System.Text.Json.Nodes.JsonNode.Parse(Convert.FromBase64String(backup))!;
        Assert.Equal("pii-kms-transit-backup/1", document["format"]!.GetValue<string>());

        await server.AsRoot("POST", $"transit/keys/{key}/config", new { deletion_allowed = true });
        Assert.Equal(204, (await server.AsRoot("DELETE", "transit/keys/" + key)).Status);
        Assert.Equal(404, (await server.AsRoot("GET", "transit/keys/" + key)).Status);

        Assert.Equal(204, (await server.AsRoot("POST", "transit/restore", new { backup })).Status);
        Assert.Equal(B64("version one"), (await server.AsRoot("POST", "transit/decrypt/" + key, new { ciphertext = v1 })).Data["plaintext"]!.GetValue<string>());
        Assert.Equal(B64("version two"), (await server.AsRoot("POST", "transit/decrypt/" + key, new { ciphertext = v2 })).Data["plaintext"]!.GetValue<string>());
        Assert.Equal(hmac, (await server.AsRoot("POST", "transit/hmac/" + key, new { input = B64("index me") })).Data["hmac"]!.GetValue<string>());
        var read = await server.AsRoot("GET", "transit/keys/" + key);
        Assert.Equal(2, read.Data["latest_version"]!.GetValue<int>());
        Assert.Equal(86400, read.Data["auto_rotate_period"]!.GetValue<long>());

        var again = await server.AsRoot("POST", "transit/restore", new { backup });
        Assert.Equal(400, again.Status);
        Assert.Contains($"key \"{key}\" already exists", again.Errors);
        Assert.Equal(204, (await server.AsRoot("POST", "transit/restore", new { backup, force = true })).Status);

        var copy = NewName();
        Assert.Equal(204, (await server.AsRoot("POST", "transit/restore/" + copy, new { backup })).Status);
        Assert.Equal(B64("version one"), (await server.AsRoot("POST", "transit/decrypt/" + copy, new { ciphertext = v1 })).Data["plaintext"]!.GetValue<string>());
        Assert.Equal(copy, (await server.AsRoot("GET", "transit/keys/" + copy)).Data["name"]!.GetValue<string>());
    }

    [Fact]
    public async Task Damaged_or_missing_backups_are_400()
    {
        Assert.Contains("'backup' must be supplied", (await server.AsRoot("POST", "transit/restore", new { })).Errors);
        Assert.Equal(400, (await server.AsRoot("POST", "transit/restore", new { backup = "not base64!" })).Status);
        Assert.Equal(400, (await server.AsRoot("POST", "transit/restore", new { backup = B64("{\"format\":\"other\"}") })).Status);
        Assert.Equal(400, (await server.AsRoot("POST", "transit/restore", new { backup = B64("{\"format\":\"pii-kms-transit-backup/1\",\"policy\":{\"Name\":\"x\"}}") })).Status);
    }

    [Fact]
    public async Task Export_gives_the_raw_keys_of_exportable_keys_only()
    {
        var key = NewName();
        await server.AsRoot("POST", "transit/keys/" + key, new { exportable = true });
        await server.AsRoot("POST", $"transit/keys/{key}/rotate");
        var all = await server.AsRoot("GET", $"transit/export/encryption-key/{key}");
        Assert.Equal(200, all.Status);
        Assert.Equal(32, Convert.FromBase64String(all.Data["keys"]!["1"]!.GetValue<string>()).Length);
        Assert.NotNull(all.Data["keys"]!["2"]);
        var latest = await server.AsRoot("GET", $"transit/export/hmac-key/{key}/latest");
        Assert.Null(latest.Data["keys"]!["1"]);
        Assert.NotEqual(all.Data["keys"]!["2"]!.GetValue<string>(), latest.Data["keys"]!["2"]!.GetValue<string>());
        Assert.Contains("invalid export type: public-key", (await server.AsRoot("GET", $"transit/export/public-key/{key}")).Errors);

        var closed = NewName();
        await server.AsRoot("POST", "transit/keys/" + closed);
        Assert.Contains("private key material is not exportable", (await server.AsRoot("GET", $"transit/export/encryption-key/{closed}")).Errors);
    }

    [Fact]
    public async Task Only_the_operator_policy_may_back_up_restore_or_export()
    {
        var key = NewName();
        await server.AsRoot("POST", "transit/keys/" + key, new { exportable = true, allow_plaintext_backup = true });
        var backup = (await server.AsRoot("GET", "transit/backup/" + key)).Data["backup"]!.GetValue<string>();
        foreach (var policy in ServicePolicies)
        {
            var token = await server.TokenWith(policy);
            Assert.Equal(403, (await server.Send("GET", "transit/backup/" + key, token)).Status);
            Assert.Equal(403, (await server.Send("POST", "transit/restore", token, new { backup, force = true })).Status);
            Assert.Equal(403, (await server.Send("POST", "transit/restore/" + NewName(), token, new { backup })).Status);
            Assert.Equal(403, (await server.Send("GET", $"transit/export/encryption-key/{key}", token)).Status);
        }

        var operatorToken = await server.TokenWith("operator");
        Assert.Equal(200, (await server.Send("GET", "transit/backup/" + key, operatorToken)).Status);
        Assert.Equal(204, (await server.Send("POST", "transit/restore/" + NewName(), operatorToken, new { backup })).Status);
        Assert.Equal(200, (await server.Send("GET", $"transit/export/encryption-key/{key}", operatorToken)).Status);
    }
}
