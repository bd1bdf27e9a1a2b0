using Amazon.S3;
using Microsoft.AspNetCore.Authentication;
using Pii.BackupService.Auth;
using Pii.BackupService.Backups;
using Pii.BackupService.Erasures;
using Pii.BackupService.Scheduling;
using Pii.Crypto.Transit;
using Pii.ServiceDefaults.Auth;
using Pii.Services.Shared;

namespace Pii.BackupService.Extensions;

internal static class Extensions
{
    /// <summary>
    /// The databases it dumps (ConnectionStrings:records, analytics — PostgreSQL read-all; dnc — MariaDB backup user),
    /// the logins restores write with (restore-postgres, restore-mariadb), the backups bucket (ConnectionStrings:backups),
    /// the key service (VAULT_ADDR / VAULT_TOKEN, transit key "backups"), the operator API key
    /// (Auth:ApiKeyHashes:operator) and its own settings under BackupService: (recovery public key, manifest key, …).
    /// </summary>
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        var services = builder.Services;
        var sources = new BackupSources(configuration);
        var bucket = S3BucketConnection.Parse(configuration.GetConnectionString("backups") ?? throw new InvalidOperationException("ConnectionStrings:backups is not set."));
        services.AddOptions<BackupOptions>().Bind(configuration.GetSection("BackupService")).Configure(o => o.Bucket = bucket.Bucket);
        services.AddSingleton(sources);
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<IAmazonS3>(_ => bucket.CreateClient(config =>
        {
            config.MaxErrorRetry = 2;
            config.Timeout = TimeSpan.FromMinutes(2);
        }));
        services.AddKeyServiceClient(configuration);
        services.AddSingleton(_ => new TransitClient(new HttpClient(), new TransitClientOptions
        {
            Address = DependencyChecks.KeyServiceAddress(configuration),
            Token = configuration["VAULT_TOKEN"],
            MaxRetries = 1,
            AttemptTimeout = TimeSpan.FromSeconds(5),
        }));

        services.AddSingleton<BackupKeys>();
        services.AddSingleton<BackupKeyrings>();
        services.AddSingleton<BackupRepository>();
        services.AddSingleton<BackupCatalog>();
        services.AddSingleton<BackupTelemetry>();
        services.AddSingleton<AuditTrail>();
        services.AddSingleton<DumpTools>();
        services.AddSingleton<KeyServiceSnapshots>();
        services.AddSingleton<BackupRunner>();
        services.AddSingleton<RestoreRunner>();
        services.AddSingleton<ErasureLedger>();
        services.AddSingleton<BackupSchedule>();
        services.AddSingleton<RetentionPruner>();
        services.AddSingleton<BackupSweeper>();
        services.AddHostedService(sp => sp.GetRequiredService<BackupSweeper>());
        services.AddHostedService<ErasureHarvester>();
        services.AddSingleton<BackupScheduler>();
        services.AddHostedService(sp => sp.GetRequiredService<BackupScheduler>());

        services.AddSingleton<ApiKeyRoles>();
        services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
        services.AddAuthorizationBuilder().AddPolicy(Roles.Operator, p => p.RequireRole(Roles.Operator));

        // Each data source with its health check, traces and metrics (keyed: two PostgreSQL databases); the dump tools
        // get the same connection strings from BackupSources.
        builder.AddKeyedNpgsqlDataSource("records");
        builder.AddKeyedNpgsqlDataSource("analytics");
        builder.AddMySqlDataSource("dnc");
        services.AddS3SpanNames(bucket.Endpoint);
        services.AddHealthChecks()
            .AddBucketCheck("s3", () => bucket)
            .AddKeyServiceCheck();
    }
}
