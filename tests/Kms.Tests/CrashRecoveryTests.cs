using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using Pii.Crypto.Transit;

namespace Pii.Kms.Tests;

/// <summary>
/// kill -9 of the real process during heavy encrypt + rotate + create load, then restart: every key is there,
/// every ciphertext handed out before the crash decrypts, and the audit chain verifies to its last complete line.
/// </summary>
public sealed class CrashRecoveryTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("kms-crash-").FullName;

    [Fact]
    public async Task Kill_9_during_encrypt_and_rotate_load_loses_nothing()
    {
        Directory.CreateDirectory(Path.Combine(_root, "data"));
        var port = KmsProcess.FreePort();
        var auditPath = Path.Combine(_root, "data", "audit.log");
        var rootTokenFile = Path.Combine(_root, "root-token");
        var config = Path.Combine(_root, "kms.json");
        var json = System.Text.Json.Nodes.JsonNode.Parse(KmsServerFixture.ConfigJson(Path.Combine(_root, "data", "kms.db"), "unused", auditPath, rootTokenFile, $"127.0.0.1:{port}"))!;
        json["master_key"] = new System.Text.Json.Nodes.JsonObject { ["env"] = "PII_KMS_TEST_MASTER_KEY" };
        await File.WriteAllTextAsync(config, json.ToJsonString());
        var env = new Dictionary<string, string> { ["PII_KMS_TEST_MASTER_KEY"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)) };

        var issued = new ConcurrentBag<(string Key, string Ciphertext, byte[] Plaintext)>();
        var createdKeys = new ConcurrentBag<string>();
        for (var cycle = 0; cycle < 2; cycle++)
        {
            using var kms = await KmsProcess.StartAsync(config, port, env);
            var client = NewClient(kms.Address, rootTokenFile);
            await VerifyEverything(client, createdKeys, issued);
            for (var i = 0; i < 4; i++)
            {
                var name = $"crash-{cycle}-{i}";
                await client.CreateKeyAsync(name);
                createdKeys.Add(name);
            }

            using var stop = new CancellationTokenSource();
            var keys = createdKeys.ToArray();
            var issuedBefore = issued.Count;
            var rotations = 0;
            var load = Enumerable.Range(0, 8).Select(worker => Task.Run(async () =>
            {
                var random = new Random(worker);
                while (!stop.IsCancellationRequested)
                {
                    var key = keys[random.Next(keys.Length)];
                    var plaintext = RandomNumberGenerator.GetBytes(16);
                    try
                    {
                        if (worker == 0)
                        {
                            await client.RotateKeyAsync(key);
                            Interlocked.Increment(ref rotations);
                        }
                        else if (worker == 1)
                        {
                            var name = $"crash-{cycle}-new-{Guid.NewGuid():N}";
                            await client.CreateKeyAsync(name);
                            createdKeys.Add(name);
                        }
                        else
                        {
                            var ct = await client.EncryptAsync(key, plaintext);
                            issued.Add((key, ct.Ciphertext, plaintext));
                        }
                    }
                    catch (Exception e) when (e is HttpRequestException or TransitException or TaskCanceledException or Polly.Timeout.TimeoutRejectedException)
                    {
                        // The process is being killed: calls in flight fail; only answered calls count.
                    }
                }
            })).ToArray();

            // The kill comes once the load is well under way (counted, because a busy runner may answer few
            // calls in any fixed window), at a random moment after that.
            var deadline = DateTime.UtcNow.AddMinutes(2);
            while ((issued.Count - issuedBefore < 150 || Volatile.Read(ref rotations) < 5) && DateTime.UtcNow < deadline)
            {
                await Task.Delay(20);
            }

            await Task.Delay(Random.Shared.Next(300));
            kms.KillHard();
            await stop.CancelAsync();
            await Task.WhenAll(load);
        }

        Assert.True(issued.Count > 200, $"only {issued.Count} ciphertexts issued");
        using (var kms = await KmsProcess.StartAsync(config, port, env))
        {
            await VerifyEverything(NewClient(kms.Address, rootTokenFile), createdKeys, issued);
        }

        var verify = Process.Start(new ProcessStartInfo("dotnet", [KmsProcess.BuiltDll("pii.dll"), "audit", "verify", auditPath]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var output = await verify.StandardOutput.ReadToEndAsync();
        var error = await verify.StandardError.ReadToEndAsync();
        await verify.WaitForExitAsync();
        Assert.True(verify.ExitCode == 0, output + error);
        Assert.Contains("OK", output, StringComparison.Ordinal);
    }

    private static TransitClient NewClient(Uri address, string tokenFile) =>
        // Generous per attempt: when every test assembly runs at once a set-up call once took more than 5 s (a kill -9
        // ends requests at once with a reset connection, so no timeout is needed to notice it).
        new(new HttpClient(), new TransitClientOptions { Address = address, TokenFile = tokenFile, MaxRetries = 0, AttemptTimeout = TimeSpan.FromSeconds(30) });

    private static async Task VerifyEverything(TransitClient client, IEnumerable<string> keys, IEnumerable<(string Key, string Ciphertext, byte[] Plaintext)> issued)
    {
        foreach (var key in keys.Distinct())
        {
            Assert.True((await client.ReadKeyAsync(key)).LatestVersion >= 1, key);
        }

        foreach (var group in issued.GroupBy(i => i.Key))
        {
            foreach (var chunk in group.Chunk(250))
            {
                var results = await client.DecryptBatchAsync(group.Key, [.. chunk.Select(c => c.Ciphertext)]);
                for (var i = 0; i < chunk.Length; i++)
                {
                    Assert.Null(results[i].Error);
                    Assert.Equal(chunk[i].Plaintext, results[i].Value);
                }
            }
        }
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
            // A killed process may leave the WAL briefly locked; the OS reclaims the temp dir.
        }
    }
}
