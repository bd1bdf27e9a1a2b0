using Amazon.S3;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using Npgsql;
using Pii.Crypto.Keys;
using Pii.Crypto.Streams;
using Pii.Crypto.Streams.Keyrings;
using Pii.Crypto.Tiers;
using Pii.Crypto.Transit;
using Pii.ServiceDefaults.Auth;
using Pii.DocumentService.Audit;
using Pii.DocumentService.Auth;
using Pii.DocumentService.Data;
using Pii.DocumentService.Documents;
using Pii.DocumentService.Keys;
using Pii.DocumentService.Patients;
using Pii.Services.Shared;

namespace Pii.DocumentService.Extensions;

internal static class Extensions
{
    public const string TransitKeyName = "documents";

    /// <summary>
    /// PostgreSQL (ConnectionStrings:records, through Aspire.Npgsql), the documents bucket (ConnectionStrings:documents), the key service
    /// (VAULT_ADDR / VAULT_TOKEN, KEK "documents"), the tier-3 application key (DocumentService:ApplicationKey[File]),
    /// role API keys (Auth:ApiKeyHashes:*).
    /// </summary>
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        var services = builder.Services;
        var bucket = S3BucketConnection.Parse(configuration.GetConnectionString("documents") ?? throw new InvalidOperationException("ConnectionStrings:documents is not set."));
        // Fail at start, with the reason, rather than on the first patient request.
        DocumentKeys.LoadApplicationKey(configuration).Dispose();
        services.AddOptions<DocumentOptions>().Bind(configuration.GetSection("DocumentService")).Configure(o => o.Bucket = bucket.Bucket);
        services.AddSingleton(TimeProvider.System);

        // NpgsqlDataSource from ConnectionStrings:records, with its health check, traces and metrics.
        builder.AddNpgsqlDataSource("records");
        services.AddHostedService<SchemaInitializer>();
        // One retry and a bounded timeout, so a dead S3 becomes a 503 within seconds.
        services.AddSingleton<IAmazonS3>(_ => bucket.CreateClient(config =>
        {
            config.MaxErrorRetry = 1;
            config.Timeout = TimeSpan.FromSeconds(30);
        }));
        services.AddS3SpanNames(bucket.Endpoint);

        services.AddKeyServiceClient(configuration);
        services.AddSingleton(sp => new TransitClient(sp.GetRequiredService<IHttpClientFactory>().CreateClient(DependencyChecks.KeyServiceClient), new TransitClientOptions
        {
            Address = DependencyChecks.KeyServiceAddress(configuration),
            Token = configuration["VAULT_TOKEN"],
            MaxRetries = 1,
            AttemptTimeout = TimeSpan.FromSeconds(5),
        }));
        services.AddSingleton<IKeyEncryptionKey>(sp => new TransitKek(sp.GetRequiredService<TransitClient>(), TransitKeyName));
        services.AddDekRotationOptions(configuration, "DocumentService");
        services.AddSingleton<IDekStore, PostgresDekStore>();
        services.AddSingleton(sp => new DekManager(sp.GetRequiredService<IKeyEncryptionKey>(), sp.GetRequiredService<IDekStore>(),
            new DekPolicy { MaxAge = sp.GetRequiredService<IOptions<DekRotationOptions>>().Value.MaxAge }, sp.GetRequiredService<TimeProvider>()));
        services.AddDekRotationSchedule<DocumentDekAgePolicy>("Pii.DocumentService", "documentservice.dek.oldest_active_age_seconds");
        services.AddSingleton(sp => new DocumentKeys(sp.GetRequiredService<NpgsqlDataSource>(), sp.GetRequiredService<IKeyEncryptionKey>(),
            DocumentKeys.LoadApplicationKey(configuration)));
        services.AddSingleton(sp => new TieredFieldProtector(
            DocumentStore.Declare(PatientRecords.Declare(PiiSchema.CreateBuilder())).Build(),
            sp.GetRequiredService<DekManager>(), sp.GetRequiredService<DocumentKeys>().ApplicationKey));
        services.AddSingleton(sp => DocumentKeyring(sp, configuration));
        services.AddSingleton<IKeyring>(sp => sp.GetRequiredService<CachingKeyring>());
        services.AddSingleton<AccessLog>();
        services.AddSingleton<PatientRecords>();
        services.AddSingleton<DocumentCatalog>();
        services.AddSingleton<ReadLimiter>();
        services.AddSingleton(sp =>
        {
            var store = ActivatorUtilities.CreateInstance<DocumentStore>(sp);
            store.KeyReferences = RecoveryKeyFile(configuration) is null
                ? $$"""[{"provider":"{{TransitKeyring.ProviderId}}","key":"{{TransitKeyName}}"}]"""
                : $$"""[{"provider":"{{TransitKeyring.ProviderId}}","key":"{{TransitKeyName}}"},{"provider":"pii-recovery","key":"{{RecoveryKeyName(configuration)}}"}]""";
            return store;
        });
        services.AddSingleton<OrphanSweeper>();
        services.AddHostedService(sp => sp.GetRequiredService<OrphanSweeper>());

        services.AddSingleton<ApiKeyRoles>();
        services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
        services.AddAuthorizationBuilder()
            .AddPolicy(Roles.Clinician, p => p.RequireRole(Roles.Clinician, Roles.RecordsAdmin))
            .AddPolicy(Roles.RecordsAdmin, p => p.RequireRole(Roles.RecordsAdmin))
            .AddPolicy(Roles.Auditor, p => p.RequireRole(Roles.Auditor));

        services.AddHealthChecks()
            .AddBucketCheck("s3", () => bucket)
            .AddKeyServiceCheck();
    }

    /// <summary>Transit keyring on KEK "documents" (generator), plus the recovery RSA public key when configured; cached.</summary>
    private static CachingKeyring DocumentKeyring(IServiceProvider services, IConfiguration configuration)
    {
        IKeyring keyring = new TransitKeyring(services.GetRequiredService<TransitClient>(), TransitKeyName);
        if (RecoveryKeyFile(configuration) is { } file)
        {
            keyring = new MultiKeyring(keyring, RawRsaKeyring.FromPem("pii-recovery", RecoveryKeyName(configuration), File.ReadAllText(file), null));
        }
        var options = configuration.GetSection("DocumentService").Get<DocumentOptions>() ?? new DocumentOptions();
        return new CachingKeyring(keyring, options.KeyCacheTimeToLive, options.KeyCacheCapacity, services.GetRequiredService<TimeProvider>());
    }

    private static string? RecoveryKeyFile(IConfiguration configuration) =>
        configuration["DocumentService:RecoveryPublicKeyFile"] is { Length: > 0 } file ? file : null;

    private static string RecoveryKeyName(IConfiguration configuration) =>
        configuration["DocumentService:RecoveryKeyName"] is { Length: > 0 } name ? name : "documents-recovery";

    /// <summary>
    /// Creates or upgrades the schema at start, before requests are served, waiting up to a minute for PostgreSQL (and
    /// for the key service when existing patients need their MRN index backfilled).
    /// </summary>
    private sealed class SchemaInitializer(NpgsqlDataSource database, PatientRecords patients, DocumentStore documents, ILogger<SchemaInitializer> logger) : IHostedService
    {
        public async Task StartAsync(CancellationToken cancellationToken)
        {
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    var report = await Schema.EnsureAsync(database, patients, documents, cancellationToken);
                    if (report.Unindexed.Count > 0) Log.MrnIndexIncomplete(logger, report.Unindexed.Count, string.Join(", ", report.Unindexed.Take(20)));
                    if (report.Unbound.Count > 0) Log.RebindIncomplete(logger, report.Unbound.Count, string.Join(", ", report.Unbound.Take(20)));
                    return;
                }
                catch (NpgsqlException e) when (attempt < 30 && e is not PostgresException)
                {
                    Log.DatabaseWait(logger, e.GetType().Name);
                    await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);
                }
                catch (Exception e) when (attempt < 30 && e is TransitServerException or HttpRequestException or Amazon.Runtime.AmazonServiceException)
                {
                    Log.KeyServiceWait(logger, e.GetType().Name);
                    await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);
                }
            }
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
