using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Pii.Kms.Tests;

/// <summary>The background rotation service inside the running server, with the clock moved forward.</summary>
public sealed class AutoRotationServiceTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("kms-rotate-").FullName;

    private sealed class MovableClock : TimeProvider
    {
        private long _offsetTicks;

        public void Advance(TimeSpan by) => Interlocked.Add(ref _offsetTicks, by.Ticks);

        public override DateTimeOffset GetUtcNow() => System.GetUtcNow().AddTicks(Interlocked.Read(ref _offsetTicks));
    }

    [Fact]
    public async Task Keys_rotate_when_their_auto_rotate_period_elapses()
    {
        Directory.CreateDirectory(Path.Combine(_root, "data"));
        Directory.CreateDirectory(Path.Combine(_root, "secrets"));
        var masterKey = Path.Combine(_root, "secrets", "master.key");
        await File.WriteAllTextAsync(masterKey, Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)));
        var config = JsonNode.Parse(KmsServerFixture.ConfigJson(Path.Combine(_root, "data", "kms.db"), masterKey, Path.Combine(_root, "data", "audit.log"), Path.Combine(_root, "secrets", "root"), "127.0.0.1:0"))!;
        config["auto_rotate_check_seconds"] = 0.1;
        var configFile = Path.Combine(_root, "kms.json");
        await File.WriteAllTextAsync(configFile, config.ToJsonString());
        var clock = new MovableClock();
        using var factory = new WebApplicationFactory<Program>().WithWebHostBuilder(b => b
            .UseSetting("Kms:ConfigFile", configFile)
            .ConfigureServices(s => s.AddSingleton<TimeProvider>(clock)));
        using var http = factory.CreateClient();
        var token = await File.ReadAllTextAsync(Path.Combine(_root, "secrets", "root"));
        Assert.Equal(200, (await VaultReply.Send(http, "POST", "transit/keys/hourly", token, new { auto_rotate_period = "1h" })).Status);
        Assert.Equal(200, (await VaultReply.Send(http, "POST", "transit/keys/fixed", token)).Status);

        await Task.Delay(500);
        Assert.Equal(1, await LatestVersion(http, token, "hourly"));
        clock.Advance(TimeSpan.FromHours(1));
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (await LatestVersion(http, token, "hourly") < 2 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        Assert.Equal(2, await LatestVersion(http, token, "hourly"));
        Assert.Equal(1, await LatestVersion(http, token, "fixed"));
    }

    private static async Task<int> LatestVersion(HttpClient http, string token, string key) =>
        (await VaultReply.Send(http, "GET", "transit/keys/" + key, token)).Data["latest_version"]!.GetValue<int>();

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
