using System.Data.Common;
using System.Net.Sockets;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using MySqlConnector;
using Npgsql;

namespace Pii.AppHost.Hosting;

/// <summary>
/// The probes behind our resources' Aspire health checks: a real query for databases (a listening socket is not a
/// working server), an HTTP status for the key service and S3. Failures are reported with the server's message, which
/// never carries a password (connection strings are not part of it).
/// </summary>
public static class HealthProbes
{
    private static readonly HttpClient Client = new() { Timeout = TimeSpan.FromSeconds(3) };

    /// <summary>Registers <paramref name="probe"/> as the health check <c>&lt;resource&gt;-health</c> of <paramref name="resource"/>.</summary>
    public static IResourceBuilder<T> WithProbe<T>(this IResourceBuilder<T> resource, Func<CancellationToken, Task<HealthCheckResult>> probe) where T : IResource
    {
        var key = $"{resource.Resource.Name}-health";
        resource.ApplicationBuilder.Services.AddHealthChecks().AddAsyncCheck(key, probe);
        return resource.WithHealthCheck(key);
    }

    /// <summary>Healthy when GET <paramref name="url"/> answers a status that <paramref name="isHealthy"/> accepts.</summary>
    public static Func<CancellationToken, Task<HealthCheckResult>> Http(Func<string> url, Func<int, bool> isHealthy) => async ct =>
    {
        try
        {
            using var response = await Client.GetAsync(url(), ct);
            var status = (int)response.StatusCode;
            return isHealthy(status) ? HealthCheckResult.Healthy($"HTTP {status}") : HealthCheckResult.Unhealthy($"HTTP {status} from {url()}");
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return HealthCheckResult.Unhealthy($"{url()}: {e.Message}");
        }
    };

    public static Task<HealthCheckResult> PostgresQueryAsync(string connectionString, CancellationToken ct) =>
        QueryAsync(new NpgsqlConnection(connectionString), ct);

    public static Task<HealthCheckResult> MySqlQueryAsync(string connectionString, CancellationToken ct) =>
        QueryAsync(new MySqlConnection(connectionString), ct);

    private static async Task<HealthCheckResult> QueryAsync(DbConnection connection, CancellationToken ct)
    {
        await using var _ = connection;
        try
        {
            await connection.OpenAsync(ct);
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT 1";
            await command.ExecuteScalarAsync(ct);
            return HealthCheckResult.Healthy("SELECT 1 ok");
        }
        catch (Exception e) when (e is DbException or SocketException or IOException or TimeoutException or InvalidOperationException)
        {
            return HealthCheckResult.Unhealthy(e.Message);
        }
    }
}
