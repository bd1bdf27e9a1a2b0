using System.Data.Common;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Pii.Services.Shared;

/// <summary>
/// Readiness checks on a service's real dependencies, shared as linked source (eShop's src/Shared pattern):
/// a database answers <c>SELECT 1</c> with the service's own credentials; the key service answers <c>sys/health</c>.
/// </summary>
internal static class DependencyChecks
{
    public const string KeyServiceClient = "vault";

    /// <summary>The key service's address: VAULT_ADDR (Vault's own variable) or <c>services:vault:http:0</c>.</summary>
    public static Uri KeyServiceAddress(IConfiguration configuration) =>
        new(configuration["VAULT_ADDR"] ?? configuration["services:vault:http:0"]
            ?? throw new InvalidOperationException("No key service address: set VAULT_ADDR or services__vault__http__0."));

    public static IServiceCollection AddKeyServiceClient(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddHttpClient(KeyServiceClient, client =>
        {
            client.BaseAddress = KeyServiceAddress(configuration);
            client.Timeout = TimeSpan.FromSeconds(5);
        });
        return services;
    }

    public static IHealthChecksBuilder AddDatabaseCheck(this IHealthChecksBuilder builder, string name, Func<DbConnection> create) =>
        builder.AddAsyncCheck(name, async cancellationToken =>
        {
            try
            {
                await using var connection = create();
                await connection.OpenAsync(cancellationToken);
                await using var command = connection.CreateCommand();
                command.CommandText = "SELECT 1";
                await command.ExecuteScalarAsync(cancellationToken);
                return HealthCheckResult.Healthy();
            }
            catch (DbException e)
            {
                return HealthCheckResult.Unhealthy($"{name} unreachable: {e.GetType().Name}");
            }
        });

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
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                return HealthCheckResult.Unhealthy("key service unreachable");
            }
        }
    }
}
