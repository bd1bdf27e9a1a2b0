using Pii.AppHost.Dashboard;

namespace Pii.AppHost;

/// <summary>Where the dashboard listens and the credentials it checks (browser login token, OTLP API key).</summary>
public sealed record DashboardSettings(string UiUrl, string OtlpUrl, string BrowserToken, string OtlpApiKey)
{
    public string LoginUrl => $"{UiUrl.TrimEnd('/')}/login?t={BrowserToken}";
}

/// <summary>Starts the dashboard (AppHost/Dashboard) beside the launcher, reading resources from its catalog.</summary>
internal static class DashboardHosting
{
    public static async Task<IAsyncDisposable> StartDashboardAsync(DashboardSettings settings, IResourceCatalog catalog, TextWriter progress, CancellationToken cancellationToken)
    {
        var dashboard = await DashboardServer.StartAsync(new DashboardOptions
        {
            UiUrl = settings.UiUrl,
            OtlpUrl = settings.OtlpUrl,
            BrowserToken = settings.BrowserToken,
            OtlpApiKey = settings.OtlpApiKey,
        }, catalog, cancellationToken);
        progress.WriteLine($"Dashboard: {dashboard.UiUrl} (OTLP {dashboard.OtlpUrl}).");
        return dashboard;
    }
}
