using MySqlConnector;
using Npgsql;
using Pii.Crypto.Keys;
using Pii.Crypto.Transit;
using Pii.EtlWorker.Auth;
using Pii.EtlWorker.Etl;
using Pii.ServiceDefaults.Auth;
using Pii.Services.Shared;

namespace Pii.EtlWorker.Extensions;

internal static class Extensions
{
    /// <summary>
    /// Its source (ConnectionStrings:dnc, read-only), its target (ConnectionStrings:analytics), the key service
    /// (VAULT_ADDR / services:vault:http:0 and VAULT_TOKEN, a decrypt-and-HMAC-only token), the dialer's key hash.
    /// The background loop runs only when the worker serves; <c>--once</c> runs one pass instead.
    /// </summary>
    public static void AddApplicationServices(this IHostApplicationBuilder builder, EtlCommandLine command)
    {
        var configuration = builder.Configuration;
        // Each data source with its health check, traces and metrics: MySqlConnector's, and Aspire.Npgsql's.
        builder.AddMySqlDataSource("dnc");
        builder.AddNpgsqlDataSource("analytics");
        var options = configuration.GetSection(EtlOptions.Section).Get<EtlOptions>() ?? new EtlOptions();
        var address = DependencyChecks.KeyServiceAddress(configuration).ToString();
        var transit = new TransitClientOptions { Address = new Uri(address.EndsWith('/') ? address : address + "/"), Token = configuration["VAULT_TOKEN"] };

        builder.Services.AddKeyServiceClient(configuration);
        // Batches of unwraps and HMACs take longer than the 5 s of the default client on a loaded machine.
        builder.Services.AddKeyServiceClient(configuration, KeyServiceBatchClient, total: TimeSpan.FromSeconds(60), attempt: TimeSpan.FromSeconds(60));
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton(s => new SourceReader(s.GetRequiredService<MySqlDataSource>()));
        builder.Services.AddSingleton(s => new SuppressionStore(s.GetRequiredService<NpgsqlDataSource>()));
        builder.Services.AddSingleton<SourceDekStore>();
        builder.Services.AddSingleton(s => new BatchUnwrapKek(new TransitClient(KeyServiceHttp(s), transit), options.KekName));
        builder.Services.AddSingleton(s => new DekManager(s.GetRequiredService<BatchUnwrapKek>(), s.GetRequiredService<SourceDekStore>(),
            new DekPolicy { CacheCapacity = options.DekCacheCapacity, CacheTimeToLive = options.DekCacheTimeToLive }));
        builder.Services.AddSingleton<RowDecryptor>();
        builder.Services.AddSingleton(s => new SuppressionIndexer(KeyServiceHttp(s), transit, options.IndexKeyName));
        builder.Services.AddSingleton(s => new DncBlindIndexProvider(cancellationToken =>
            DncBlindIndexes.FromKeyServiceAsync(s.GetRequiredService<IHttpClientFactory>().CreateClient(DependencyChecks.KeyServiceClient),
                transit.Token ?? "", options.IntakeIndexKeyVersion, cancellationToken)));
        builder.Services.AddSingleton<EtlMetrics>();
        builder.Services.AddSingleton<EtlPass>();
        builder.Services.AddSingleton<ApiKeyRoles>();
        builder.Services.AddExceptionHandler<ServiceProblemHandler>();
        if (!command.Once)
        {
            builder.Services.AddHostedService<EtlBackgroundService>();
        }

        builder.Services.AddHealthChecks().AddKeyServiceCheck();
    }

    /// <summary><c>--once</c>: migrate, run one pass (printing its rows with <c>--print</c>), report, exit 0 or 1.</summary>
    public static async Task<int> RunOnceAsync(this WebApplication app, EtlCommandLine command)
    {
        var store = app.Services.GetRequiredService<SuppressionStore>();
        var pass = app.Services.GetRequiredService<EtlPass>();
        try
        {
            await store.MigrateAsync(CancellationToken.None);
            var printer = command.Print ? new RowPrinter(Console.Out, command.Reveal) : null;
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var result = await pass.RunAsync(printer, CancellationToken.None);
            var seconds = clock.Elapsed.TotalSeconds;
            await Console.Error.WriteLineAsync(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"etl: {result.Read} read, {result.Loaded} loaded, {result.Quarantined} quarantined, {result.Erased} erasures applied in {seconds:F2} s ({result.Read / Math.Max(seconds, 1e-6):F0} rows/s)"));
            return 0;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // The type only: driver messages can quote values.
            await Console.Error.WriteLineAsync($"etl: pass failed ({e.GetType().Name})");
            return 1;
        }
    }

    private const string KeyServiceBatchClient = "vault-batch";

    private static HttpClient KeyServiceHttp(IServiceProvider services) =>
        services.GetRequiredService<IHttpClientFactory>().CreateClient(KeyServiceBatchClient);
}
