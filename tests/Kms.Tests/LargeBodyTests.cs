using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace Pii.Kms.Tests;

/// <summary>Memory-heavy and memory-measuring: runs alone, so it neither starves other tests nor counts their load.</summary>
[CollectionDefinition(nameof(LargeBodyTests), DisableParallelization = true)]
public sealed class LargeBodyTestsRunAlone;

/// <summary>
/// Large request bodies against the real service process, its memory read from /proc. Before the fix the body was read
/// before the token was checked: 40 concurrent 31 MB unauthenticated POSTs took the process from 3.4 to 6.0 GB.
/// </summary>
[Collection(nameof(LargeBodyTests))]
public sealed class LargeBodyTests : IDisposable
{
    private const int BodyBytes = 31 * 1024 * 1024;
    private readonly string _root = Directory.CreateTempSubdirectory("kms-large-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task Unauthenticated_large_bodies_are_refused_unread_and_audited()
    {
        var (kms, rootToken) = await Start(maxConcurrentLargeBodies: null);
        using (kms)
        {
            var idle = kms.StatusKilobytes("VmRSS");
            var body = EncryptBody();
            using var http = new HttpClient { BaseAddress = kms.Address, Timeout = TimeSpan.FromMinutes(5) };
            var statuses = await Task.WhenAll(Enumerable.Range(0, 40).Select(async _ =>
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, "v1/transit/encrypt/dnc") { Content = Json(body) };
                using var response = await http.SendAsync(request);
                return (int)response.StatusCode;
            }));
            Assert.All(statuses, s => Assert.Equal(403, s));

            // No body is read before authentication, so 40 x 31 MB never enters the process. 400 MB is the idle
            // process (about 100-150 MB) plus generous room for Kestrel's per-connection buffers and GC slack; reading
            // even a quarter of the bodies would exceed it.
            var peak = kms.StatusKilobytes("VmHWM");
            Assert.True(peak < 400 * 1024, $"peak RSS {peak / 1024} MB (idle {idle / 1024} MB)");

            var denied = AuditResponses(Path.Combine(_root, "data", "audit.log")).Count(r => r.Path == "transit/encrypt/dnc" && r.Status == 403);
            Assert.Equal(40, denied);

            using var after = new HttpRequestMessage(HttpMethod.Post, "v1/transit/encrypt/dnc") { Content = Json("{\"plaintext\":\"aGk=\"}"u8.ToArray()) };
            after.Headers.Add("X-Vault-Token", rootToken);
            using var ok = await http.SendAsync(after);
            Assert.Equal(200, (int)ok.StatusCode);
        }
    }

    [Fact]
    public async Task Authenticated_large_bodies_are_read_a_bounded_number_at_a_time()
    {
        var (kms, rootToken) = await Start(maxConcurrentLargeBodies: 1);
        using (kms)
        {
            var idle = kms.StatusKilobytes("VmRSS");
            var body = EncryptBody();
            using var http = new HttpClient { BaseAddress = kms.Address, Timeout = TimeSpan.FromMinutes(5) };
            var statuses = await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, "v1/transit/encrypt/dnc") { Content = Json(body) };
                request.Headers.Add("X-Vault-Token", rootToken);
                using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
                return (int)response.StatusCode;
            }));
            Assert.All(statuses, s => Assert.Equal(200, s));
            // One 31 MB encrypt holds about 350 MB while it runs (the body, its parsed copy, the UTF-16 plaintext string,
            // the decoded plaintext, the ciphertext and the answer). With one slot the eight requests run one after
            // another and the process peaked near 830 MB; unbounded, the same eight peaked at 2.7 GB. 1200 MB sits
            // between with room for GC timing on a busy machine.
            var peak = kms.StatusKilobytes("VmHWM");
            Assert.True(peak < 1200 * 1024, $"peak RSS {peak / 1024} MB (idle {idle / 1024} MB)");
        }
    }

    private static byte[] EncryptBody()
    {
        var body = new byte[BodyBytes];
        var head = "{\"plaintext\":\""u8;
        head.CopyTo(body);
        body.AsSpan(head.Length, BodyBytes - head.Length - 2).Fill((byte)'A');
        "\"}"u8.CopyTo(body.AsSpan(BodyBytes - 2));
        return body;
    }

    private static ByteArrayContent Json(byte[] body)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return content;
    }

    private static IEnumerable<(string Path, int Status)> AuditResponses(string auditPath)
    {
        using var file = new FileStream(auditPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(file, Encoding.UTF8);
        var lines = reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!);
        return [.. lines.Where(l => l["type"]!.GetValue<string>() == "response")
            .Select(l => (l["request"]!["path"]!.GetValue<string>(), l["response"]!["status_code"]!.GetValue<int>()))];
    }

    private async Task<(KmsProcess Kms, string RootToken)> Start(int? maxConcurrentLargeBodies)
    {
        Directory.CreateDirectory(Path.Combine(_root, "data"));
        Directory.CreateDirectory(Path.Combine(_root, "secrets"));
        var keyFile = Path.Combine(_root, "secrets", "master.key");
        await File.WriteAllTextAsync(keyFile, Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)));
        var port = KmsProcess.FreePort();
        var rootTokenFile = Path.Combine(_root, "secrets", "root-token");
        var json = JsonNode.Parse(KmsServerFixture.ConfigJson(Path.Combine(_root, "data", "kms.db"), keyFile, Path.Combine(_root, "data", "audit.log"), rootTokenFile, $"127.0.0.1:{port}"))!;
        if (maxConcurrentLargeBodies is { } max)
        {
            json["max_concurrent_large_bodies"] = max;
        }

        var config = Path.Combine(_root, "kms.json");
        await File.WriteAllTextAsync(config, json.ToJsonString());
        var kms = await KmsProcess.StartAsync(config, port);
        var rootToken = (await File.ReadAllTextAsync(rootTokenFile)).Trim();
        using var http = new HttpClient { BaseAddress = kms.Address };
        using var create = new HttpRequestMessage(HttpMethod.Post, "v1/transit/keys/dnc");
        create.Headers.Add("X-Vault-Token", rootToken);
        using var created = await http.SendAsync(create);
        Assert.Equal(200, (int)created.StatusCode);
        return (kms, rootToken);
    }
}
