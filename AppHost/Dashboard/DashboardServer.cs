using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Pii.AppHost.Dashboard.Api;
using Pii.AppHost.Dashboard.Auth;
using Pii.AppHost.Dashboard.Otlp;
using Pii.AppHost.Dashboard.Telemetry;
using Pii.AppHost.Dashboard.Web;

namespace Pii.AppHost.Dashboard;

/// <summary>
/// The dashboard: two Kestrel apps sharing one in-memory <see cref="TelemetryStore"/> — the UI + JSON API on
/// <see cref="DashboardOptions.UiUrl"/> and the OTLP receiver alone on <see cref="DashboardOptions.OtlpUrl"/>, so the
/// browser auth never applies to exporters and the OTLP key never to browsers.
/// </summary>
public sealed class DashboardServer : IAsyncDisposable
{
    private readonly WebApplication _ui;
    private readonly WebApplication _otlp;

    private DashboardServer(WebApplication ui, WebApplication otlp, TelemetryStore store)
    {
        _ui = ui;
        _otlp = otlp;
        Store = store;
    }

    /// <summary>Where the UI actually listens (the bound port when the option asked for port 0).</summary>
    public Uri UiUrl => BoundAddress(_ui);

    /// <summary>Where the OTLP receiver actually listens; give services this as OTEL_EXPORTER_OTLP_ENDPOINT.</summary>
    public Uri OtlpUrl => BoundAddress(_otlp);

    public TelemetryStore Store { get; }

    public static async Task<DashboardServer> StartAsync(DashboardOptions options, IResourceCatalog catalog, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(catalog);
        var store = new TelemetryStore(options);
        var converter = new OtlpConverter(options);

        var ui = CreateApp(options.UiUrl, options, store, converter, catalog);
        ui.UseMiddleware<SecurityHeadersMiddleware>();
        ui.UseMiddleware<DashboardAuthMiddleware>();
        ui.MapLogin();
        ui.MapDashboardApi();
        ui.MapDashboardPages();

        var otlp = CreateApp(options.OtlpUrl, options, store, converter, catalog);
        otlp.MapOtlpApi();

        await ui.StartAsync(ct);
        try
        {
            await otlp.StartAsync(ct);
        }
        catch
        {
            await ui.DisposeAsync();
            throw;
        }
        return new DashboardServer(ui, otlp, store);
    }

    private static WebApplication CreateApp(string url, DashboardOptions options, TelemetryStore store, OtlpConverter converter,
        IResourceCatalog catalog)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            ApplicationName = typeof(DashboardServer).Assembly.GetName().Name,
            EnvironmentName = Environments.Production,
        });
        builder.WebHost.UseUrls(url);
        // The dashboard shares the AppHost's console: only its own problems belong there, and request lines would
        // print the login token.
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole().SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(store);
        builder.Services.AddSingleton(converter);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<DashboardSessions>();
        builder.Services.AddSingleton(catalog);
        builder.Services.AddProblemDetails();
        var app = builder.Build();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        return app;
    }

    private static Uri BoundAddress(WebApplication app)
    {
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
        return new Uri(addresses.First());
    }

    public async ValueTask DisposeAsync()
    {
        using var stopping = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await Task.WhenAll(_ui.StopAsync(stopping.Token), _otlp.StopAsync(stopping.Token));
        await _ui.DisposeAsync();
        await _otlp.DisposeAsync();
    }
}

/// <summary>No framing, no sniffing, no referrer (the login URL carries the token), scripts and styles from here only.</summary>
internal sealed class SecurityHeadersMiddleware(RequestDelegate next)
{
    public Task InvokeAsync(HttpContext context)
    {
        var headers = context.Response.Headers;
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        headers["Referrer-Policy"] = "no-referrer";
        headers.ContentSecurityPolicy = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'";
        headers.CacheControl = "no-store";
        return next(context);
    }
}
