using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Http.Resilience;
using Polly;

namespace Pii.Services.Shared;

/// <summary>
/// The key service as a dependency, shared as linked source (eShop's src/Shared pattern): its address, the named
/// HttpClient that calls it (service discovery from the defaults, plus a resilience handler), and a readiness check on
/// its <c>sys/health</c>. Database checks come with the data sources (Aspire.Npgsql, AddMySqlDataSource).
/// </summary>
internal static class DependencyChecks
{
    public const string KeyServiceClient = "vault";

    /// <summary>
    /// VAULT_ADDR (Vault's own variable, for a real Vault or OpenBao) when set; otherwise the logical address
    /// <c>https+http://vault</c>, which service discovery resolves from <c>services:vault:https|http:0</c> as an AppHost
    /// injects it.
    /// </summary>
    public static Uri KeyServiceAddress(IConfiguration configuration) =>
        new(configuration["VAULT_ADDR"] is { Length: > 0 } address ? address : "https+http://vault");

    /// <summary>
    /// The named client every key-service call goes through: 5 s in all, 2 s per attempt, and up to two quick retries
    /// of transient failures for safe methods only. POSTs are not retried here: <c>TransitClient</c> decides which
    /// transit operations may be repeated. No circuit breaker: a failing key service must keep answering 503 per
    /// request, not a broken-circuit exception.
    /// </summary>
    public static IHttpClientBuilder AddKeyServiceClient(this IServiceCollection services, IConfiguration configuration) =>
        services.AddKeyServiceClient(configuration, KeyServiceClient, total: TimeSpan.FromSeconds(5), attempt: TimeSpan.FromSeconds(2));

    /// <summary>Another named key-service client with the same pipeline and its own limits (long batch calls).</summary>
    public static IHttpClientBuilder AddKeyServiceClient(this IServiceCollection services, IConfiguration configuration, string name, TimeSpan total, TimeSpan attempt)
    {
        var builder = services.AddHttpClient(name, client =>
        {
            client.BaseAddress = KeyServiceAddress(configuration);
            // The pipeline's total timeout is the limit; HttpClient's own (100 s) would only hide it.
            client.Timeout = Timeout.InfiniteTimeSpan;
        });
        builder.AddResilienceHandler("key-service", pipeline => pipeline
            .AddTimeout(total)
            .AddRetry(KeyServiceRetry())
            .AddTimeout(attempt));
        return builder;
    }

    private static HttpRetryStrategyOptions KeyServiceRetry()
    {
        var retry = new HttpRetryStrategyOptions
        {
            MaxRetryAttempts = 2,
            Delay = TimeSpan.FromMilliseconds(100),
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
        };
        retry.DisableForUnsafeHttpMethods();
        return retry;
    }

    /// <summary>
    /// Vault's sys/health: 200 active, 429/473 standby; 501 uninitialised and 503 sealed are unhealthy. Then, when the
    /// service has a token (VAULT_TOKEN), <c>auth/token/lookup-self</c> with it (Vault's default policy allows it): a
    /// revoked or expired token makes the service unable to work although the key service is up, so it is reported.
    /// </summary>
    public static IHealthChecksBuilder AddKeyServiceCheck(this IHealthChecksBuilder builder) =>
        builder.Add(new HealthCheckRegistration("vault", services => new KeyServiceHealthCheck(
            services.GetRequiredService<IHttpClientFactory>(), services.GetRequiredService<IConfiguration>()["VAULT_TOKEN"]), HealthStatus.Unhealthy, tags: null));

    private sealed class KeyServiceHealthCheck(IHttpClientFactory clients, string? token) : IHealthCheck
    {
        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            try
            {
                var client = clients.CreateClient(KeyServiceClient);
                using var response = await client.GetAsync("v1/sys/health", cancellationToken);
                var status = (int)response.StatusCode;
                if (status >= 500) return HealthCheckResult.Unhealthy($"key service answered {status}");
                if (string.IsNullOrEmpty(token)) return HealthCheckResult.Healthy($"HTTP {status}");
                using var lookup = new HttpRequestMessage(HttpMethod.Get, "v1/auth/token/lookup-self");
                lookup.Headers.Add("X-Vault-Token", token);
                using var self = await client.SendAsync(lookup, cancellationToken);
                return (int)self.StatusCode switch
                {
                    200 => HealthCheckResult.Healthy($"HTTP {status}, token valid"),
                    401 or 403 => HealthCheckResult.Unhealthy("key service refused this service's token (revoked or expired)"),
                    var other => HealthCheckResult.Unhealthy($"key service answered {other} to the token check"),
                };
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or Polly.Timeout.TimeoutRejectedException)
            {
                return HealthCheckResult.Unhealthy("key service unreachable");
            }
        }
    }
}
