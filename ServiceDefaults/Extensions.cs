using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using Pii.ServiceDefaults.Errors;
using Pii.ServiceDefaults.Redaction;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// The Aspire ServiceDefaults template (same public names and packages), plus what is ours: PII redaction before
/// export, problem details everywhere, probe requests kept out of traces and logs.
/// </summary>
public static class Extensions
{
    private const string HealthEndpointPath = "/health";
    private const string AlivenessEndpointPath = "/alive";

    /// <summary>Telemetry, health checks, problem details and service discovery on every HttpClient from the factory.</summary>
    public static TBuilder AddServiceDefaults<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.AddBasicServiceDefaults();
        builder.Services.AddServiceDiscovery();
        builder.Services.ConfigureHttpClientDefaults(http =>
        {
            // Not AddStandardResilienceHandler() here, unlike the template: the defaults also cover the OTLP exporter's
            // client, whose retries against a stopping dashboard delay shutdown past the AppHost's 6 s SIGTERM window
            // (ASPIRE.md pitfall 2). The clients that call other services add their own resilience handler.
            http.AddServiceDiscovery();
        });
        return builder;
    }

    /// <summary>The worker variant: telemetry, health checks and problem details, no outgoing-HTTP stack.</summary>
    public static TBuilder AddBasicServiceDefaults<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.ConfigureOpenTelemetry();
        builder.AddDefaultHealthChecks();
        builder.Services.AddProblemDetailsEverywhere();
        return builder;
    }

    /// <summary>
    /// Logs, metrics and traces through OpenTelemetry, exported over OTLP only when OTEL_EXPORTER_OTLP_ENDPOINT is set
    /// (every other OTLP setting comes from the standard OTEL_* keys). The redacting processors are added before the
    /// exporter, so nothing they remove ever reaches it.
    /// </summary>
    public static TBuilder ConfigureOpenTelemetry<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        // Request-line logs carry query strings (a place PII leaks to) and, like the "Executing endpoint" lines, would
        // flood the console with an AppHost polling /health; the server span records every other request with its
        // query removed. Configuration can still lower these levels deliberately.
        builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.AspNetCore.Routing.EndpointMiddleware", LogLevel.Warning);
        builder.Logging.AddFilter("System.Net.Http.HttpClient", LogLevel.Warning);

        builder.Logging.AddOpenTelemetry(logging =>
        {
            logging.IncludeFormattedMessage = true;
            logging.IncludeScopes = true;
            logging.AddProcessor(new RedactingLogProcessor());
            logging.AddExceptionScrubbing();
        });

        builder.Services.AddOpenTelemetry()
            .WithMetrics(metrics => metrics
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddRuntimeInstrumentation()
                .AddMeter(builder.Environment.ApplicationName))
            .WithTracing(tracing => tracing
                .AddSource(builder.Environment.ApplicationName)
                .AddAspNetCoreInstrumentation(aspNetCore => aspNetCore.Filter = context => !IsProbe(context.Request.Path))
                .AddHttpClientInstrumentation()
                .AddProcessor(new RedactingSpanProcessor())
                .AddExceptionScrubbing());

        if (!string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            builder.Services.AddOpenTelemetry().UseOtlpExporter();
        }
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
    /// The checks' own calls (databases, the key service) run with instrumentation suppressed: the AppHost polls these
    /// endpoints, and their spans would bury the traces a reader looks for.
    /// </summary>
    public static WebApplication MapDefaultEndpoints(this WebApplication app)
    {
        if (app.Environment.IsDevelopment())
        {
            app.Use(async (context, next) =>
            {
                if (!IsProbe(context.Request.Path))
                {
                    await next(context);
                    return;
                }
                using (SuppressInstrumentationScope.Begin())
                {
                    await next(context);
                }
            });
            app.MapHealthChecks(HealthEndpointPath);
            app.MapHealthChecks(AlivenessEndpointPath, new HealthCheckOptions { Predicate = r => r.Tags.Contains("live") });
        }
        return app;
    }

    private static bool IsProbe(PathString path) =>
        path.StartsWithSegments(HealthEndpointPath, StringComparison.OrdinalIgnoreCase)
        || path.StartsWithSegments(AlivenessEndpointPath, StringComparison.OrdinalIgnoreCase);
}
