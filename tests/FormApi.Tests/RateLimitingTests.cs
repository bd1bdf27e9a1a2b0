using System.Net;
using System.Net.Sockets;

namespace Pii.FormApi.Tests;

/// <summary>
/// The intake's limits over real sockets from many loopback source addresses (issue 10, item 6): a global bucket caps
/// what many addresses get together, and X-Forwarded-For counts only from a configured proxy.
/// </summary>
[Collection(FormApiGroup.Name)]
public sealed class RateLimitingTests(FormApiFixture fixture)
{
    [Fact]
    public async Task Many_source_addresses_together_are_held_to_the_global_limit()
    {
        var port = FreePort();
        using var intake = fixture.CreateIntake(new Dictionary<string, string>
        {
            ["FormApi:RateLimitBurst"] = "1000",
            ["FormApi:RateLimitPerSecond"] = "1000",
            ["FormApi:GlobalRateLimitBurst"] = "5",
            ["FormApi:GlobalRateLimitPerSecond"] = "1",
        }, port);
        intake.StartServer();

        var statuses = new List<HttpStatusCode>();
        for (int source = 2; source < 42; source++)
        {
            using var client = ClientFrom($"127.0.0.{source}", port);
            using var response = await client.PostAsync("/api/dnc", FormApiFixture.Json(FormApiFixture.SeedBody(FormApiFixture.UniquePhone())));
            statuses.Add(response.StatusCode);
        }
        // 40 addresses, each far under its own limit: without the global bucket every one would be accepted.
        Assert.True(statuses.Count(s => s == HttpStatusCode.Created) >= 5, string.Join(",", statuses));
        Assert.Contains(HttpStatusCode.TooManyRequests, statuses);
        Assert.All(statuses, s => Assert.Contains(s, new[] { HttpStatusCode.Created, HttpStatusCode.TooManyRequests }));
    }

    [Fact]
    public async Task Forwarded_client_addresses_count_only_from_a_configured_proxy()
    {
        var port = FreePort();
        using var intake = fixture.CreateIntake(new Dictionary<string, string>
        {
            ["FormApi:RateLimitBurst"] = "2",
            ["FormApi:RateLimitPerSecond"] = "1",
            ["FormApi:TrustedProxies:0"] = "127.0.0.50",
        }, port);
        intake.StartServer();

        // Behind the proxy: four clients, two submissions each, every one within its own bucket.
        using (var proxy = ClientFrom("127.0.0.50", port))
        {
            for (int client = 1; client <= 4; client++)
            {
                for (int i = 0; i < 2; i++)
                {
                    Assert.Equal(HttpStatusCode.Created, await SubmitAsync(proxy, $"203.0.113.{client}"));
                }
            }
        }
        // Anyone else's X-Forwarded-For is ignored: its own address's bucket empties after two.
        using var direct = ClientFrom("127.0.0.51", port);
        var statuses = new List<HttpStatusCode>();
        for (int i = 0; i < 5; i++)
        {
            statuses.Add(await SubmitAsync(direct, $"198.51.100.{i + 1}"));
        }
        Assert.Contains(HttpStatusCode.TooManyRequests, statuses);
    }

    private static async Task<HttpStatusCode> SubmitAsync(HttpClient client, string forwardedFor)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/dnc") { Content = FormApiFixture.Json(FormApiFixture.SeedBody(FormApiFixture.UniquePhone())) };
        request.Headers.Add("X-Forwarded-For", forwardedFor);
        using var response = await client.SendAsync(request);
        return response.StatusCode;
    }

    /// <summary>A client whose connections come from <paramref name="source"/> (any 127.0.0.0/8 address works on Linux).</summary>
    private static HttpClient ClientFrom(string source, int port) => new(new SocketsHttpHandler
    {
        ConnectCallback = async (context, cancellationToken) =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                socket.Bind(new IPEndPoint(IPAddress.Parse(source), 0));
                await socket.ConnectAsync(IPAddress.Loopback, port, cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    })
    { BaseAddress = new Uri($"http://127.0.0.1:{port}") };

    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
