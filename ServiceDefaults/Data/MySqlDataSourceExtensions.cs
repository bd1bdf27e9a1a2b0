using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using MySqlConnector;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// What Aspire.MySqlConnector would register (that package is not served here, ASPIRE.md): a <see cref="MySqlDataSource"/>
/// from <c>ConnectionStrings:&lt;name&gt;</c>, a health check named <c>MySql</c>, and MySqlConnector's own
/// ActivitySource and Meter (both named <c>MySqlConnector</c>) in OpenTelemetry. Same method name and check name as
/// the Aspire integration, so services do not change if it becomes available.
/// </summary>
public static class MySqlDataSourceExtensions
{
    public const string HealthCheckName = "MySql";
    public const string TelemetryName = "MySqlConnector";

    /// <param name="configureConnection">Connection options the service relies on (e.g. <c>IgnorePrepare = false</c>).</param>
    public static TBuilder AddMySqlDataSource<TBuilder>(this TBuilder builder, string connectionName,
        Action<MySqlConnectionStringBuilder>? configureConnection = null) where TBuilder : IHostApplicationBuilder
    {
        var connectionString = builder.Configuration.GetConnectionString(connectionName)
            ?? throw new InvalidOperationException($"ConnectionStrings:{connectionName} is not set.");
        var connection = new MySqlConnectionStringBuilder(connectionString);
        configureConnection?.Invoke(connection);

        builder.Services.AddSingleton(services => new MySqlDataSourceBuilder(connection.ConnectionString)
            .UseLoggerFactory(services.GetService<ILoggerFactory>())
            .Build());
        builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(HealthCheckName,
            services => new MySqlHealthCheck(services.GetRequiredService<MySqlDataSource>()), HealthStatus.Unhealthy, tags: null));
        builder.Services.AddOpenTelemetry()
            .WithTracing(tracing => tracing.AddSource(TelemetryName))
            .WithMetrics(metrics => metrics.AddMeter(TelemetryName));
        return builder;
    }

    /// <summary>Opens a pooled connection with the service's own credentials and pings the server.</summary>
    private sealed class MySqlHealthCheck(MySqlDataSource dataSource) : IHealthCheck
    {
        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            try
            {
                await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
                return await connection.PingAsync(cancellationToken)
                    ? HealthCheckResult.Healthy()
                    : new HealthCheckResult(context.Registration.FailureStatus, "MySQL did not answer the ping.");
            }
            catch (MySqlException e)
            {
                // The type and code only: server messages can quote values.
                return new HealthCheckResult(context.Registration.FailureStatus, $"MySQL unreachable: {e.GetType().Name} {e.ErrorCode}");
            }
        }
    }
}
