using Pii.AppHost.Dashboard;

namespace Pii.AppHost;

/// <summary>Where the dashboard listens and the credentials it checks (browser login token, OTLP API key).</summary>
public sealed record DashboardSettings(string UiUrl, string OtlpUrl, string BrowserToken, string OtlpApiKey)
{
    public string LoginUrl => $"{UiUrl.TrimEnd('/')}/login?t={BrowserToken}";
}

/// <summary>
/// The seam between the launcher and the dashboard (AppHost/Dashboard, built on its own branch). At merge this
/// method becomes:
/// <c>return await DashboardServer.StartAsync(new DashboardOptions { UiUrl = settings.UiUrl, OtlpUrl = settings.OtlpUrl,
/// BrowserToken = settings.BrowserToken, OtlpApiKey = settings.OtlpApiKey }, catalog, cancellationToken);</c>
/// Until then nothing listens on the dashboard ports and the services' OTLP exports fail quietly.
/// </summary>
internal static class DashboardHosting
{
    public static Task<IAsyncDisposable> StartDashboardAsync(DashboardSettings settings, IResourceCatalog catalog, TextWriter progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        cancellationToken.ThrowIfCancellationRequested();
        progress.WriteLine($"Dashboard: not included in this build; it will serve {settings.UiUrl} (OTLP {settings.OtlpUrl}).");
        return Task.FromResult<IAsyncDisposable>(new NotStarted());
    }

    private sealed class NotStarted : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
