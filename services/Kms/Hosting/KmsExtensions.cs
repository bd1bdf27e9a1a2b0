using Microsoft.AspNetCore.Server.Kestrel.Core;
using Pii.Kms.Apis;
using Pii.Kms.Http;
using Pii.Kms.Transit;

namespace Pii.Kms.Hosting;

/// <summary>Composition of the key service: settings, runtime, background rotation, Vault pipeline and APIs.</summary>
public static class KmsExtensions
{
    public static WebApplicationBuilder AddKms(this WebApplicationBuilder builder, KmsSettings.CommandLine commandLine)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var urlsGiven = !string.IsNullOrEmpty(builder.Configuration["urls"]) || !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("ASPNETCORE_URLS"));
        if (!urlsGiven && ListenAddressAtStartup(commandLine, builder.Configuration) is { } address)
        {
            builder.WebHost.UseUrls("http://" + address);
        }

        // The Vault pipeline enforces Vault's 32 MiB limit itself and answers 413 in Vault's shape.
        builder.Services.Configure<KestrelServerOptions>(o => o.Limits.MaxRequestBodySize = null);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton(sp => KmsSettings.Resolve(commandLine, sp.GetRequiredService<IConfiguration>()));
        builder.Services.AddSingleton<KmsRuntime>();
        builder.Services.AddHostedService<AutoRotationService>();
        return builder;
    }

    public static WebApplication MapKms(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        _ = app.Services.GetRequiredService<KmsRuntime>();
        app.UseMiddleware<VaultPipeline>();
        app.MapSysApi();
        app.MapSnapshotApi();
        app.MapAuthApi();
        app.MapTransitKeysApi();
        app.MapTransitDataApi();
        app.MapTransitBackupApi();
        app.MapVaultGroup("/v1").Map("/{**rest}", (string rest) => IsKnownMount(rest)
            ? VaultResult.Error(405, "unsupported operation")
            : VaultResult.Error(404, $"no handler for route \"{rest}\". route entry not found."));
        return app;
    }

    /// <summary>Inside a mount Vault answers an unsupported method with 405; outside any mount with 404.</summary>
    private static bool IsKnownMount(string path) =>
        path.StartsWith("transit/", StringComparison.Ordinal) || path.StartsWith("sys/", StringComparison.Ordinal) || path.StartsWith("auth/token/", StringComparison.Ordinal);

    private static string? ListenAddressAtStartup(KmsSettings.CommandLine commandLine, ConfigurationManager configuration)
    {
        var configFile = commandLine.ConfigFile ?? configuration["Kms:ConfigFile"];
        if (configFile is not null)
        {
            return KmsSettings.FromFile(configFile).ListenAddress;
        }

        if (commandLine.Dev || configuration.GetValue<bool>("Kms:Dev"))
        {
            return commandLine.DevListenAddress ?? configuration["Kms:DevListenAddress"] ?? "127.0.0.1:8200";
        }

        return configuration["Kms:StoragePath"] is { Length: > 0 } ? configuration["Kms:ListenAddress"] ?? "127.0.0.1:8200" : null;
    }
}
