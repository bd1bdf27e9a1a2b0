using Pii.AppHost.Dashboard;
using Pii.Testing;

namespace Pii.ServiceDefaults.Tests;

/// <summary>The real dashboard (OTLP receiver with an API key) plus one sample service process exporting to it.</summary>
public sealed class TelemetryFixture : IAsyncLifetime
{
    public const string ApiKey = "test-otlp-key-0123456789";
    public const string ServiceName = "alpha";
    public const string InstanceId = "abcdefgh";

    public DashboardServer Dashboard { get; private set; } = null!;
    public SampleServiceProcess Service { get; private set; } = null!;
    public HttpClient Http { get; } = new();

    public async Task InitializeAsync()
    {
        Dashboard = await DashboardServer.StartAsync(
            new DashboardOptions { UiUrl = "http://127.0.0.1:0", OtlpUrl = "http://127.0.0.1:0", OtlpApiKey = ApiKey, BrowserToken = "unused-token" },
            new EmptyCatalog(), CancellationToken.None);
        Service = await SampleServiceProcess.StartAsync(ServiceName, InstanceId, Dashboard.OtlpUrl, ApiKey);
        Http.BaseAddress = Service.BaseUrl;
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        await Service.DisposeAsync();
        await Dashboard.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class TelemetryGroup : ICollectionFixture<TelemetryFixture>
{
    public const string Name = "telemetry";
}

/// <summary>These tests need the dashboard's OTLP receiver only, not its resources.</summary>
internal sealed class EmptyCatalog : IResourceCatalog
{
    public IReadOnlyList<ResourceSnapshot> GetResources() => [];

    public IAsyncEnumerable<ConsoleLine> WatchConsoleAsync(string resourceName, CancellationToken cancellationToken) =>
        AsyncEnumerable.Empty<ConsoleLine>();
}
