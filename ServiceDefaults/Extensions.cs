using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Pii.ServiceDefaults.Errors;
using Pii.ServiceDefaults.Resilience;
using Pii.ServiceDefaults.ServiceDiscovery;
using Pii.ServiceDefaults.Telemetry;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// What every PiiAspire service shares, with the public names of the Aspire ServiceDefaults template so the real
/// template (or Aspire packages) can replace this project without touching service code.
/// </summary>
public static class Extensions
{
    private const string HealthEndpointPath = "/health";
    private const string AlivenessEndpointPath = "/alive";

    /// <summary>Telemetry, health checks, problem details, service discovery and resilience for outgoing HTTP.</summary>
    public static TBuilder AddServiceDefaults<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.AddBasicServiceDefaults();
        builder.Services.AddServiceDiscovery(builder.Configuration);
        builder.Services.AddHttpResilience(builder.Configuration);
        builder.Services.ConfigureHttpClientDefaults(http =>
        {
            // Outer to inner: resilience (retries re-resolve), then discovery rewrites each attempt's URI.
            http.AddHttpMessageHandler<ResilienceHandler>();
            http.AddHttpMessageHandler<ServiceDiscoveryHandler>();
        });
        return builder;
    }

    /// <summary>The worker variant (EtlWorker): telemetry, health checks and problem details, no outgoing HTTP stack.</summary>
    public static TBuilder AddBasicServiceDefaults<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.ConfigureOpenTelemetry();
        builder.AddDefaultHealthChecks();
        builder.Services.AddProblemDetailsEverywhere();
        return builder;
    }

    /// <summary>Traces, metrics and logs over OTLP, switched on only when OTEL_EXPORTER_OTLP_ENDPOINT is set.</summary>
    public static TBuilder ConfigureOpenTelemetry<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        TelemetrySetup.Configure(builder, [HealthEndpointPath, AlivenessEndpointPath]);
        return builder;
    }

    public static TBuilder AddDefaultHealthChecks<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddHealthChecks().AddCheck("self", () => HealthCheckResult.Healthy(), ["live"]);
        return builder;
    }

    /// <summary>
    /// <c>/health</c> (every check must pass: ready for traffic) and <c>/alive</c> (checks tagged "live"), mapped in
    /// Development only, as the template does: probe endpoints expose internals, so production exposes them deliberately.
    /// </summary>
    public static WebApplication MapDefaultEndpoints(this WebApplication app)
    {
        if (app.Environment.IsDevelopment())
        {
            app.MapHealthChecks(HealthEndpointPath);
            app.MapHealthChecks(AlivenessEndpointPath, new HealthCheckOptions { Predicate = r => r.Tags.Contains("live") });
        }
        return app;
    }
}
