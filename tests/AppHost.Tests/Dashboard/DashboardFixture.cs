using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using Pii.AppHost.Dashboard;
using Pii.Testing;

namespace Pii.AppHost.Tests.Dashboard;

/// <summary>
/// The dashboard with a browser token and an OTLP key, and two real service processes exporting to it: "frontend"
/// calls "backend" through service discovery (<c>https+http://peer</c>), so one request makes one trace across both.
/// </summary>
public sealed class DashboardFixture : IAsyncLifetime
{
    public const string BrowserToken = "browser-token-for-tests-0123456789abcdef";
    public const string OtlpApiKey = "otlp-key-for-tests-0123456789abcdef";

    public DashboardServer Dashboard { get; private set; } = null!;
    public SampleServiceProcess Frontend { get; private set; } = null!;
    public SampleServiceProcess Backend { get; private set; } = null!;
    public ProcessResourceCatalog Catalog { get; } = new();

    /// <summary>A client for the dashboard's JSON API, authenticated with the bearer token.</summary>
    public HttpClient Api { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Dashboard = await DashboardServer.StartAsync(new DashboardOptions
        {
            UiUrl = "http://127.0.0.1:0",
            OtlpUrl = "http://127.0.0.1:0",
            BrowserToken = BrowserToken,
            OtlpApiKey = OtlpApiKey,
        }, Catalog, CancellationToken.None);
        Backend = await SampleServiceProcess.StartAsync("backend", "bkndinst", Dashboard.OtlpUrl, OtlpApiKey);
        Catalog.Add(Backend);
        Frontend = await SampleServiceProcess.StartAsync("frontend", "frntinst", Dashboard.OtlpUrl, OtlpApiKey,
            new Dictionary<string, string> { ["services__peer__http__0"] = Backend.BaseUrl.ToString().TrimEnd('/') });
        Catalog.Add(Frontend);
        Api = new HttpClient { BaseAddress = Dashboard.UiUrl };
        Api.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", BrowserToken);
    }

    public async Task DisposeAsync()
    {
        Api.Dispose();
        await Frontend.DisposeAsync();
        await Backend.DisposeAsync();
        await Dashboard.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class DashboardGroup : ICollectionFixture<DashboardFixture>
{
    public const string Name = "dashboard";
}

/// <summary>The launcher's contract, implemented over the test's own service processes.</summary>
public sealed class ProcessResourceCatalog : IResourceCatalog
{
    private readonly List<SampleServiceProcess> _processes = [];

    public void Add(SampleServiceProcess process)
    {
        lock (_processes)
        {
            _processes.Add(process);
        }
    }

    public IReadOnlyList<ResourceSnapshot> GetResources()
    {
        lock (_processes)
        {
            return _processes.Select(p => new ResourceSnapshot(
                p.Name, "Project", p.HasExited ? "Exited" : "Running", p.HasExited ? "Unknown" : "Healthy",
                [p.BaseUrl.ToString().TrimEnd('/')], p.Pid, p.StartTime, 0, null, null)).ToList();
        }
    }

    public async IAsyncEnumerable<ConsoleLine> WatchConsoleAsync(string resourceName, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        SampleServiceProcess? process;
        lock (_processes)
        {
            process = _processes.FirstOrDefault(p => p.Name == resourceName);
        }
        if (process is null)
        {
            yield break;
        }
        await foreach (var line in process.WatchAsync(cancellationToken))
        {
            yield return new ConsoleLine(line.Time, resourceName, line.IsError, line.Text);
        }
    }
}
