using System.Data.Common;
using System.Net.Sockets;
using MySqlConnector;
using Npgsql;

namespace Pii.AppHost.Hosting;

/// <summary>The probes the launcher runs against resources: HTTP status, TCP accept, and a database query.</summary>
public static class HealthChecks
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(3) };

    /// <summary>Healthy when GET <paramref name="url"/> answers a status accepted by <paramref name="isHealthy"/> (default: 200).</summary>
    public static Func<CancellationToken, Task<HealthResult>> Http200(string url, Func<int, bool>? isHealthy = null) => async ct =>
    {
        try
        {
            using var response = await Http.GetAsync(url, ct);
            var status = (int)response.StatusCode;
            return (isHealthy ?? (s => s == 200))(status) ? HealthResult.Healthy($"HTTP {status}") : HealthResult.Unhealthy($"HTTP {status} from {url}");
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return HealthResult.Unhealthy($"{url}: {e.Message}");
        }
    };

    public static Func<CancellationToken, Task<HealthResult>> Tcp(string host, int port) => async ct =>
    {
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(host, port, ct);
            return HealthResult.Healthy($"tcp {host}:{port} accepts");
        }
        catch (SocketException e)
        {
            return HealthResult.Unhealthy($"tcp {host}:{port}: {e.Message}");
        }
    };

    public static Func<CancellationToken, Task<HealthResult>> PostgresQuery(Func<string> connectionString) =>
        ct => QueryAsync(() => new NpgsqlConnection(connectionString()), ct);

    public static Func<CancellationToken, Task<HealthResult>> MySqlQuery(Func<string> connectionString) => ct =>
    {
        return QueryAsync(() => new MySqlConnection(connectionString()), ct);
    };

    private static async Task<HealthResult> QueryAsync(Func<DbConnection> create, CancellationToken ct)
    {
        try
        {
            await using var connection = create();
            await connection.OpenAsync(ct);
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT 1";
            await command.ExecuteScalarAsync(ct);
            return HealthResult.Healthy("SELECT 1 ok");
        }
        catch (DbException e)
        {
            return HealthResult.Unhealthy(e.Message);
        }
        catch (Exception e) when (e is SocketException or IOException or TimeoutException or InvalidOperationException)
        {
            return HealthResult.Unhealthy(e.Message);
        }
    }
}
