using System.Text;
using System.Text.Json.Nodes;
using Pii.Crypto.Audit;

namespace Pii.Kms.Tests;

public sealed class SealedAndAuditTests
{
    [Fact]
    public async Task Without_a_master_key_the_service_starts_sealed()
    {
        using var server = new KmsServerFixture(withMasterKey: false, auditPath: null);
        var health = await server.Send("GET", "sys/health", null);
        Assert.Equal(503, health.Status);
        Assert.True(health.Body!["sealed"]!.GetValue<bool>());
        Assert.Null(health.Body!["cluster_id"]);
        var encrypt = await server.Send("POST", "transit/encrypt/dnc", "anything", new { plaintext = "" });
        Assert.Equal(503, encrypt.Status);
        Assert.Contains("Vault is sealed", encrypt.Errors);
        Assert.Equal(200, (await server.Send("GET", "sys/health?sealedcode=200", null)).Status);
    }

    [Fact]
    public async Task Audit_log_hashes_sensitive_values_and_its_chain_verifies()
    {
        using var server = new KmsServerFixture();
        await server.AsRoot("POST", "transit/keys/audited");
        const string secret = "c2VjcmV0LXBsYWludGV4dC1zaG91bGQtbm90LWxlYWs=";
        await server.AsRoot("POST", "transit/encrypt/audited", new { plaintext = secret, context = "Y3R4" });
        var ok = await server.AsRoot("POST", "transit/encrypt/audited", new { plaintext = secret });
        var ciphertext = ok.Data["ciphertext"]!.GetValue<string>();
        var dek = (await server.AsRoot("POST", "transit/datakey/plaintext/audited", new { })).Data["plaintext"]!.GetValue<string>();
        var token = await server.TokenWith("etl");
        await server.Send("POST", "transit/decrypt/dnc", token, new { ciphertext });

        var log = await ReadShared(server.AuditPath);
        foreach (var sensitive in new[] { secret, ciphertext, dek, server.RootToken, token, "Y3R4" })
        {
            Assert.DoesNotContain(sensitive, log, StringComparison.Ordinal);
        }

        var lines = log.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length >= 10);
        var request = lines.Select(l => JsonNode.Parse(l)!).First(l => l["type"]!.GetValue<string>() == "request" && l["request"]!["path"]!.GetValue<string>() == "transit/encrypt/audited");
        Assert.StartsWith("hmac-sha256:", request["request"]!["data"]!["plaintext"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.All(lines, l => Assert.StartsWith("{\"prev_hash\":\"", l, StringComparison.Ordinal));

        var result = AuditChain.Verify(new MemoryStream(Encoding.UTF8.GetBytes(log)));
        Assert.True(result.Ok, result.Reason);
        Assert.Equal(lines.Length, result.LinesVerified);
    }

    [Fact]
    public async Task Audit_hash_lets_an_operator_find_a_known_value_in_the_log()
    {
        using var server = new KmsServerFixture();
        await server.AsRoot("POST", "transit/keys/searched");
        const string plaintext = "a25vd24tdmFsdWUtdG8tZmluZA==";
        await server.AsRoot("POST", "transit/encrypt/searched", new { plaintext });

        var operatorToken = await server.TokenWith("operator");
        var reply = await server.Send("POST", "sys/audit-hash/file", operatorToken, new { input = plaintext });

        Assert.Equal(200, reply.Status);
        var hash = reply.Data["hash"]!.GetValue<string>();
        Assert.StartsWith("hmac-sha256:", hash, StringComparison.Ordinal);
        Assert.Equal(hash, reply.Body!["hash"]!.GetValue<string>());
        var request = (await ReadShared(server.AuditPath)).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!)
            .First(l => l["type"]!.GetValue<string>() == "request" && l["request"]!["path"]!.GetValue<string>() == "transit/encrypt/searched");
        Assert.Equal(hash, request["request"]!["data"]!["plaintext"]!.GetValue<string>());

        var unknown = await server.Send("POST", "sys/audit-hash/syslog", operatorToken, new { input = plaintext });
        Assert.Equal(400, unknown.Status);
        Assert.Equal(["unknown audit backend \"syslog/\""], unknown.Errors);
        var empty = await server.Send("POST", "sys/audit-hash/file", operatorToken, new { input = "" });
        Assert.Equal(["the \"input\" parameter is empty"], empty.Errors);
        Assert.Equal(403, (await server.Send("POST", "sys/audit-hash/file", await server.TokenWith("etl"), new { input = plaintext })).Status);
    }

    [Fact]
    public async Task Audit_write_failure_fails_the_request_closed()
    {
        if (!File.Exists("/dev/full"))
        {
            return;
        }

        // /dev/full is a real device whose writes fail with ENOSPC: the disk-full fault, produced for real.
        using var server = new KmsServerFixture(withMasterKey: true, auditPath: "/dev/full");
        var reply = await server.AsRoot("POST", "transit/keys/never-created");
        Assert.Equal(500, reply.Status);
        Assert.Contains("internal error", reply.Errors);
        Assert.Equal(200, (await server.Send("GET", "sys/health", null)).Status);
    }

    private static async Task<string> ReadShared(string path)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        return await reader.ReadToEndAsync();
    }
}
