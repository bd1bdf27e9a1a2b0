using System.Text;
using System.Text.Json.Nodes;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Microsoft.Extensions.DependencyInjection;
using Pii.AppHost.Hosting;
using Pii.AppHost.Tests.Support;

namespace Pii.AppHost.Tests.EndToEnd;

/// <summary>
/// The whole AppHost (Projects.AppHost: the model README's <c>dotnet run --project AppHost</c> runs) started with
/// Aspire.Hosting.Testing on a state folder of its own and free ports, every service exporting its telemetry to the
/// test's <see cref="OtlpReceiver"/>. A start that does not reach healthy in time fails with every resource's state
/// and console tail. Dispose stops everything and deletes the folder.
/// </summary>
internal sealed class AspireSystem : IAsyncDisposable
{
    private AspireSystem(DistributedApplication app, string root, OtlpReceiver telemetry)
    {
        App = app;
        Root = root;
        Telemetry = telemetry;
    }

    public DistributedApplication App { get; }

    /// <summary>The AppHost's state folder (what <c>.pii</c> is for a user): data/ and secrets/.</summary>
    public string Root { get; }

    public OtlpReceiver Telemetry { get; }

    public static async Task<AspireSystem> StartAsync(string prefix, TimeSpan? timeout = null)
    {
        var root = Path.Combine(Path.GetTempPath(), prefix + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(root);
        var telemetry = await OtlpReceiver.StartAsync();
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.AppHost>(
        [
            "--environment=Development", $"--PiiAspire:StateDirectory={root}", "--PiiAspire:RandomPorts=true", "--PiiAspire:Durable=false",
            $"--ASPIRE_DASHBOARD_OTLP_HTTP_ENDPOINT_URL={telemetry.Endpoint}",
        ]);
        var app = await builder.BuildAsync();
        var system = new AspireSystem(app, root, telemetry);
        using var limit = new CancellationTokenSource(timeout ?? TimeSpan.FromMinutes(5));
        try
        {
            // StartAsync itself may outlast its token when a resource never starts (ASPIRE.md pitfall 4).
            await app.StartAsync(limit.Token).WaitAsync(limit.Token);
            await Task.WhenAll(LocalResources.VisibleResources(app).Select(r => app.ResourceNotifications.WaitForResourceHealthyAsync(r.Name, limit.Token))).WaitAsync(limit.Token);
            return system;
        }
        catch (Exception e) when (e is OperationCanceledException or DistributedApplicationException)
        {
            var states = await system.DescribeAsync();
            await system.DisposeAsync();
            throw new InvalidOperationException("The AppHost did not come up healthy:" + Environment.NewLine + states, e);
        }
    }

    public IReadOnlyList<IResource> Resources => [.. LocalResources.VisibleResources(App)];

    /// <summary>A project's http URL, without the trailing slash.</summary>
    public string Url(string resource) => App.GetEndpoint(resource, "http").ToString().TrimEnd('/');

    /// <summary>A role's API key for a service from <c>secrets/api-keys.json</c>, where README sends users for theirs.</summary>
    public string ApiKey(string service, string role) =>
        (string)JsonNode.Parse(File.ReadAllText(Path.Combine(Root, "secrets", ApiKeys.FileName)))![service]![role]!;

    /// <summary>Every line every resource wrote to its console, as one text.</summary>
    public async Task<string> ConsoleTextAsync()
    {
        var text = new StringBuilder();
        var logs = App.Services.GetRequiredService<ResourceLoggerService>();
        foreach (var resource in Resources)
        {
            using var quick = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try
            {
                await foreach (var batch in logs.GetAllAsync(resource.Name).WithCancellation(quick.Token))
                {
                    foreach (var line in batch) text.AppendLine(line.Content);
                }
            }
            catch (OperationCanceledException)
            {
                // The backlog is what arrived in five seconds.
            }
        }
        return text.ToString();
    }

    public async Task<string> DescribeAsync()
    {
        var report = new StringBuilder();
        foreach (var resource in Resources)
        {
            App.ResourceNotifications.TryGetCurrentState(resource.Name, out var current);
            report.AppendLine(System.Globalization.CultureInfo.InvariantCulture,
                $"{resource.Name}: {current?.Snapshot.State?.Text ?? "unknown"} ({current?.Snapshot.HealthStatus?.ToString() ?? "no health"})");
        }
        var console = await ConsoleTextAsync();
        report.AppendLine(console.Length > 20_000 ? console[^20_000..] : console);
        return report.ToString();
    }

    public async ValueTask DisposeAsync()
    {
        using (var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
        {
            try
            {
                await App.StopAsync(stop.Token);
            }
            catch (OperationCanceledException)
            {
                // Disposing the app has DCP kill what is left.
            }
        }
        await App.DisposeAsync();
        await Telemetry.DisposeAsync();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // A server may still be flushing a file as it exits; the OS temp cleaner gets the rest.
        }
    }
}
