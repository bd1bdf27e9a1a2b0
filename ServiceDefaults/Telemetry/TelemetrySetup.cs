using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using Pii.ServiceDefaults.Redaction;

namespace Pii.ServiceDefaults.Telemetry;

/// <summary>
/// OpenTelemetry on the core SDK only (no Extensions.Hosting, no instrumentation packages): the built-in
/// ActivitySources and Meters of .NET replace the instrumentation packages, the providers are DI singletons so host
/// shutdown flushes them, and every OTLP setting comes from the standard OTEL_* configuration keys.
/// </summary>
internal static class TelemetrySetup
{
    public const string OtlpEndpointKey = "OTEL_EXPORTER_OTLP_ENDPOINT";

    /// <summary>ASPIRE-CONVENTIONS.md §2.3: what the instrumentation packages would have subscribed to.</summary>
    public static readonly IReadOnlyList<string> BuiltInActivitySources =
        ["Microsoft.AspNetCore", "System.Net.Http", "Npgsql", "MySqlConnector"];

    public static readonly IReadOnlyList<string> BuiltInMeters =
    [
        "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel", "Microsoft.AspNetCore.Routing",
        "Microsoft.AspNetCore.Diagnostics", "Microsoft.AspNetCore.RateLimiting", "System.Net.Http",
        "System.Net.NameResolution", "System.Runtime", "Npgsql", "MySqlConnector",
    ];

    public static void Configure(IHostApplicationBuilder builder, IReadOnlyList<string> probePaths)
    {
        // .NET 10 leaves every HTTP tag off the server span unless this switch is off (ASP.NET Core 11 flips it).
        // The host reads it when it starts, which is after AddServiceDefaults.
        AppContext.SetSwitch("Microsoft.AspNetCore.Hosting.SuppressActivityOpenTelemetryData", false);
        builder.Services.AddSingleton<IStartupFilter>(new HttpServerTelemetryStartupFilter(probePaths));

        // Request-line logs carry query strings (a place PII leaks to); the server span records every request instead,
        // with its query removed. Configuration can still lower these levels deliberately.
        builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.Warning);
        builder.Logging.AddFilter("System.Net.Http.HttpClient", LogLevel.Warning);

        var configuration = builder.Configuration;
        if (string.IsNullOrWhiteSpace(configuration[OtlpEndpointKey]))
        {
            return;
        }

        builder.Logging.AddOpenTelemetry(logging =>
        {
            logging.IncludeFormattedMessage = true;
            logging.IncludeScopes = true;
            logging.AddProcessor(new RedactingLogProcessor());
            logging.AddExceptionScrubbing();
            logging.AddOtlpExporter();
        });

        var ownSource = builder.Environment.ApplicationName;
        builder.Services.AddSingleton(_ => Sdk.CreateTracerProviderBuilder()
            .ConfigureServices(services => services.AddSingleton<IConfiguration>(configuration))
            .AddSource([.. BuiltInActivitySources, ownSource])
            .AddProcessor(new RedactingSpanProcessor())
            .AddExceptionScrubbing()
            .AddOtlpExporter()
            .Build());
        builder.Services.AddSingleton(_ => Sdk.CreateMeterProviderBuilder()
            .ConfigureServices(services => services.AddSingleton<IConfiguration>(configuration))
            .AddMeter([.. BuiltInMeters, ownSource])
            .AddOtlpExporter()
            .Build());
        builder.Services.AddHostedService<TelemetryProvidersLifetime>();
    }
}

/// <summary>
/// Creates both providers when the host builds its hosted services (before any of them starts, so the first request
/// is traced) and flushes them on shutdown, inside the AppHost's 6 s grace period.
/// </summary>
internal sealed class TelemetryProvidersLifetime(TracerProvider tracing, MeterProvider metrics) : IHostedService
{
    private const int FlushTimeoutMilliseconds = 3000;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken)
    {
        tracing.ForceFlush(FlushTimeoutMilliseconds);
        metrics.ForceFlush(FlushTimeoutMilliseconds);
        return Task.CompletedTask;
    }
}
