using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Pii.Services.Shared;

namespace Pii.EtlWorker.Tests;

/// <summary>
/// The key-service client every service registers (services/Shared): found through service discovery when only the
/// AppHost's <c>services__vault__http__0</c> is set, transient failures of safe calls retried by the resilience
/// handler, POSTs left to TransitClient. The key service cannot be made to fail transiently on demand, so a listener on
/// loopback plays a key service answering 503 twice.
/// </summary>
public sealed class KeyServiceClientTests
{
    [Fact]
    public async Task Discovered_from_services_vault_and_safe_calls_retry_transient_failures_but_posts_do_not()
    {
        await using var keyService = new FlakyKeyService(failuresPerPath: 2);
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = Environments.Development });
        builder.Configuration["services:vault:http:0"] = keyService.Address;
        builder.AddServiceDefaults();
        builder.Services.AddKeyServiceClient(builder.Configuration);
        using var host = builder.Build();
        var client = host.Services.GetRequiredService<IHttpClientFactory>().CreateClient(DependencyChecks.KeyServiceClient);

        using var health = await client.GetAsync("v1/sys/health");
        using var encrypt = await client.PostAsync("v1/transit/encrypt/dnc", new StringContent("{}"));

        Assert.Equal(new Uri("https+http://vault"), DependencyChecks.KeyServiceAddress(builder.Configuration));
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal(3, keyService.Calls("GET /v1/sys/health"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, encrypt.StatusCode);
        Assert.Equal(1, keyService.Calls("POST /v1/transit/encrypt/dnc"));
    }

    [Fact]
    public void Vault_addr_wins_over_discovery()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["VAULT_ADDR"] = "http://127.0.0.1:8200",
            ["services:vault:http:0"] = "http://127.0.0.1:9999",
        }).Build();

        Assert.Equal(new Uri("http://127.0.0.1:8200"), DependencyChecks.KeyServiceAddress(configuration));
    }

    /// <summary>Answers 503 to the first <c>failuresPerPath</c> requests of each method and path, then 200 with an empty JSON object.</summary>
    private sealed class FlakyKeyService : IAsyncDisposable
    {
        private readonly HttpListener _listener = new();
        private readonly Dictionary<string, int> _calls = [];
        private readonly int _failuresPerPath;
        private readonly Task _loop;

        public FlakyKeyService(int failuresPerPath)
        {
            _failuresPerPath = failuresPerPath;
            using (var probe = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0))
            {
                probe.Start();
                Address = $"http://127.0.0.1:{((IPEndPoint)probe.LocalEndpoint).Port}";
            }
            _listener.Prefixes.Add(Address + "/");
            _listener.Start();
            _loop = Task.Run(ServeAsync);
        }

        public string Address { get; }

        public int Calls(string methodAndPath)
        {
            lock (_calls) return _calls.GetValueOrDefault(methodAndPath);
        }

        private async Task ServeAsync()
        {
            while (_listener.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    context = await _listener.GetContextAsync();
                }
                catch (Exception e) when (e is HttpListenerException or ObjectDisposedException)
                {
                    return;
                }
                int count;
                lock (_calls)
                {
                    var key = $"{context.Request.HttpMethod} {context.Request.Url!.AbsolutePath}";
                    count = _calls[key] = _calls.GetValueOrDefault(key) + 1;
                }
                context.Response.StatusCode = count <= _failuresPerPath ? 503 : 200;
                context.Response.ContentType = "application/json";
                await context.Response.OutputStream.WriteAsync("{}"u8.ToArray());
                context.Response.Close();
            }
        }

        public async ValueTask DisposeAsync()
        {
            _listener.Stop();
            _listener.Close();
            await _loop;
        }
    }
}
