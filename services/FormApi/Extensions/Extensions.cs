using System.Text.Json;
using Dapper;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using MySqlConnector;
using Pii.Crypto.Keys;
using Pii.Crypto.Transit;
using Pii.FormApi.Apis;
using Pii.FormApi.Auth;
using Pii.ServiceDefaults.Auth;
using Pii.FormApi.Data;
using Pii.FormApi.Domain;
using Pii.FormApi.Keys;
using Pii.Services.Shared;

namespace Pii.FormApi.Extensions;

internal static class Extensions
{
    /// <summary>
    /// MySQL (ConnectionStrings:dnc, this instance's own user), the key service (VAULT_ADDR / VAULT_TOKEN), and the
    /// services of this instance: intake (encrypt + insert, rate limit) or back office (migrations, decrypt, roles, jobs).
    /// </summary>
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        // MySqlConnector's data source with its health check, traces and metrics. It ignores DbCommand.Prepare unless
        // told otherwise; the re-encryption job relies on real server-side prepared statements for its bulk writes.
        builder.AddMySqlDataSource("dnc", connection => connection.IgnorePrepare = false);
        var token = configuration["VAULT_TOKEN"] ?? throw new InvalidOperationException("VAULT_TOKEN is not set (the AppHost injects this instance's key-service token).");
        var options = configuration.GetSection(FormApiOptions.Section).Get<FormApiOptions>() ?? new FormApiOptions();
        var services = builder.Services;

        services.Configure<FormApiOptions>(configuration.GetSection(FormApiOptions.Section));
        services.AddDekRotationOptions(configuration, FormApiOptions.Section);
        services.ConfigureHttpJsonOptions(json => json.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower);
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<DncDatabase>();
        services.AddSingleton(new KeyServiceIdentity(token));
        services.AddKeyServiceClient(configuration);
        services.AddSingleton(sp => new TransitClient(
            sp.GetRequiredService<IHttpClientFactory>().CreateClient(DependencyChecks.KeyServiceClient),
            new TransitClientOptions { Address = WithSlash(DependencyChecks.KeyServiceAddress(configuration)), Token = token }));
        services.AddSingleton<IKeyEncryptionKey>(sp => new TransitKek(sp.GetRequiredService<TransitClient>(), KeyServiceIdentity.DncKek));
        services.AddSingleton(sp => new DncBlindIndexProvider(cancellationToken => DncBlindIndexes.FromKeyServiceAsync(
            sp.GetRequiredService<IHttpClientFactory>().CreateClient(DependencyChecks.KeyServiceClient), token,
            sp.GetRequiredService<IOptions<FormApiOptions>>().Value.BlindIndexKeyVersion, cancellationToken)));
        services.AddSingleton<FormApiMetrics>();
        services.AddExceptionHandler<ServiceProblemHandler>();
        services.AddHealthChecks()
            .AddKeyServiceCheck()
            .AddTypeActivatedCheck<DncSchemaCheck>("dnc-schema");

        if (options.Instance == FormApiInstance.Intake)
        {
            services.AddSingleton<IntakeDek>();
            services.AddSingleton<DncIntake>();
            services.AddSubmissionRateLimiting(options);
        }
        else
        {
            services.AddHostedService<SchemaMigrator>();
            services.AddSingleton<ApiKeyRoles>();
            services.AddSingleton<ApiKeyAuthenticator>();
            services.AddSingleton<IDekStore, MySqlDekStore>();
            services.AddSingleton(sp => new DekManager(sp.GetRequiredService<IKeyEncryptionKey>(), sp.GetRequiredService<IDekStore>()));
            services.AddSingleton<AccessLog>();
            services.AddSingleton<DncRecords>();
            services.AddSingleton<KeyOperations>();
            services.AddSingleton<ReencryptionJobs>();
            services.AddSingleton<ReencryptionWorker>();
            services.AddHostedService(sp => sp.GetRequiredService<ReencryptionWorker>());
            // Only the back office may read encryption_keys: it runs the age policy for every instance's DEKs.
            services.AddDekRotationSchedule<DncDekAgePolicy>(FormApiMetrics.MeterName, "formapi.dek.oldest_active_age_seconds");
        }
    }

    /// <summary>Maps this instance's half of the routes (the other half does not exist here: 404).</summary>
    public static void MapFormApi(this WebApplication app)
    {
        var options = app.Services.GetRequiredService<IOptions<FormApiOptions>>().Value;
        if (options.Instance == FormApiInstance.Intake)
        {
            app.UseSubmissionRateLimiting(options);
            app.MapFormPage();
            app.MapDncIntakeApi();
            if (options.BenchPlaintextPeer)
            {
                app.MapBenchPeerApi();
            }
        }
        else
        {
            app.MapDncBackofficeApi();
            app.MapKeysApi();
            app.MapAuditApi();
        }
    }

    private static Uri WithSlash(Uri address) => address.AbsoluteUri.EndsWith('/') ? address : new Uri(address.AbsoluteUri + "/");

    /// <summary>The intake cannot migrate; it is ready once the back office has created the schema (SHOW-level metadata only).</summary>
    private sealed class DncSchemaCheck(MySqlDataSource database) : IHealthCheck
    {
        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            try
            {
                await using var connection = await database.OpenConnectionAsync(cancellationToken);
                var tables = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
                    "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN ('dnc_preferences', 'encryption_keys')",
                    cancellationToken: cancellationToken));
                return tables == 2 ? HealthCheckResult.Healthy() : HealthCheckResult.Unhealthy("The dnc schema is not migrated yet.");
            }
            catch (MySqlException e)
            {
                return HealthCheckResult.Unhealthy($"dnc schema check failed: {e.GetType().Name}");
            }
        }
    }
}
