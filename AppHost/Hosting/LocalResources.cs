using System.Collections.Concurrent;
using System.Reflection;
using System.Text;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.DependencyInjection;

namespace Pii.AppHost.Hosting;

/// <summary>
/// Real servers for a test or a benchmark, started by DCP with the AppHost's own hosting integrations: declare only
/// the resources needed on a builder from <see cref="CreateBuilder"/> (a temp state folder, free ports, no fsync, no
/// dashboard), then <see cref="StartAsync"/> them and read their connection strings. Dispose stops every process and
/// deletes the folder. Parallel test assemblies never collide.
/// </summary>
/// <example>
/// <code>
/// var builder = LocalResources.CreateBuilder("records-tests");
/// var login = builder.AddPostgres("postgres").AddDatabase("records").AddUser("documentservice", new PostgresAccess.SchemaOwner("documents"));
/// await using var resources = await LocalResources.StartAsync(builder);
/// // login.Resource.ConnectionString → Host=127.0.0.1;Port=…;Username=documentservice;Password=…;Database=records
/// </code>
/// </example>
public sealed class LocalResources : IAsyncDisposable
{
    private readonly string _root;
    private readonly CancellationTokenSource _stopWatching = new();
    private readonly ConcurrentDictionary<string, ConcurrentQueue<string>> _console = new();

    private LocalResources(DistributedApplication app, string root)
    {
        App = app;
        _root = root;
    }

    public DistributedApplication App { get; }

    /// <summary>A builder whose state lives in a fresh temp folder, with free ports and DCP from the NuGet package.</summary>
    public static IDistributedApplicationBuilder CreateBuilder(string name, params string[] settings)
    {
        // Short: MariaDB's socket path inside it must stay under the 108-byte sun_path limit.
        var root = Path.Combine(Path.GetTempPath(), $"piiaspire-{name}-{Guid.NewGuid().ToString("N")[..12]}");
        Directory.CreateDirectory(root);
        var metadata = typeof(LocalResources).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().ToDictionary(a => a.Key, a => a.Value);
        return DistributedApplication.CreateBuilder(new DistributedApplicationOptions
        {
            DisableDashboard = true,
            // Projects run with `dotnet run --no-build -c <this assembly's configuration>`; the entry assembly (a test
            // host) may be built in another one than our projects.
            AssemblyName = typeof(LocalResources).Assembly.GetName().Name,
            Args =
            [
                $"--PiiAspire:StateDirectory={root}", "--PiiAspire:RandomPorts=true", "--PiiAspire:Durable=false",
                $"--DcpPublisher:CliPath={metadata["pii.dcpclipath"]}", $"--DcpPublisher:DashboardPath={metadata["pii.dashboardpath"]}",
                .. settings.Select(s => "--" + s),
            ],
        });
    }

    /// <summary>Builds and starts the model and waits until every resource is healthy and provisioned (default: 3 minutes).</summary>
    public static async Task<LocalResources> StartAsync(IDistributedApplicationBuilder builder, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var root = Path.GetDirectoryName(LocalState.Of(builder).DataRoot)!;
        var app = builder.Build();
        var resources = new LocalResources(app, root);
        resources.WatchConsoles();
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout ?? TimeSpan.FromMinutes(3));
        try
        {
            // StartAsync itself may outlast its token when a resource never starts (ASPIRE.md pitfall 4).
            await app.StartAsync(limit.Token).WaitAsync(limit.Token);
            var notifications = app.Services.GetRequiredService<ResourceNotificationService>();
            await Task.WhenAll(VisibleResources(app).Select(r => notifications.WaitForResourceHealthyAsync(r.Name, limit.Token))).WaitAsync(limit.Token);
            return resources;
        }
        catch (Exception e) when (e is OperationCanceledException or DistributedApplicationException or InvalidOperationException)
        {
            var report = resources.Describe();
            await resources.DisposeAsync();
            throw new InvalidOperationException($"Test resources did not start:{Environment.NewLine}{report}", e);
        }
    }

    /// <summary>What a user sees in the dashboard: no parameters, no hidden helpers (such as each project's rebuilder).</summary>
    public static IEnumerable<IResource> VisibleResources(DistributedApplication app) =>
        app.Services.GetRequiredService<DistributedApplicationModel>().Resources.Where(r => r is not ParameterResource
            && !(app.ResourceNotifications.TryGetCurrentState(r.Name, out var state) && state.Snapshot.IsHidden));

    /// <summary>Stops one resource (a fault for a test: the key service or a database going away) until it is down.</summary>
    public async Task StopAsync(string resourceName, CancellationToken cancellationToken = default)
    {
        await ExecuteAsync(resourceName, KnownResourceCommands.StopCommand, cancellationToken);
        await App.ResourceNotifications.WaitForResourceAsync(resourceName, KnownResourceStates.TerminalStates, cancellationToken);
    }

    /// <summary>Starts a stopped resource again and waits until it is healthy.</summary>
    public async Task StartAsync(string resourceName, CancellationToken cancellationToken = default)
    {
        await ExecuteAsync(resourceName, KnownResourceCommands.StartCommand, cancellationToken);
        await App.ResourceNotifications.WaitForResourceHealthyAsync(resourceName, cancellationToken);
    }

    private async Task ExecuteAsync(string resourceName, string command, CancellationToken cancellationToken)
    {
        var resource = App.Services.GetRequiredService<DistributedApplicationModel>().Resources.Single(r => r.Name == resourceName);
        var result = await App.ResourceCommands.ExecuteCommandAsync(resource, command, cancellationToken);
        if (!result.Success) throw new InvalidOperationException($"{command} {resourceName} failed: {result.Message}");
    }

    /// <summary>
    /// Keeps the last lines of every resource's console from the start, so that a start that fails can say why (a process
    /// that exits at once has no console left to ask for afterwards).
    /// </summary>
    private void WatchConsoles()
    {
        var logs = App.Services.GetRequiredService<ResourceLoggerService>();
        foreach (var resource in App.Services.GetRequiredService<DistributedApplicationModel>().Resources.Where(r => r is not ParameterResource))
        {
            var lines = _console.GetOrAdd(resource.Name, _ => new ConcurrentQueue<string>());
            _ = Task.Run(async () =>
            {
                try
                {
                    await foreach (var batch in logs.WatchAsync(resource.Name).WithCancellation(_stopWatching.Token))
                    {
                        foreach (var line in batch)
                        {
                            lines.Enqueue(line.Content);
                            while (lines.Count > 40) lines.TryDequeue(out _);
                        }
                    }
                }
                catch (OperationCanceledException)
                {
                    // Stopped with the resources.
                }
            });
        }
    }

    /// <summary>Every resource's state, exit code and the tail of its console: what a failed start needs to be understood.</summary>
    private string Describe()
    {
        var report = new StringBuilder();
        var notifications = App.Services.GetRequiredService<ResourceNotificationService>();
        foreach (var resource in VisibleResources(App))
        {
            notifications.TryGetCurrentState(resource.Name, out var current);
            report.AppendLine(System.Globalization.CultureInfo.InvariantCulture,
                $"{resource.Name}: {current?.Snapshot.State?.Text ?? "unknown"} ({current?.Snapshot.HealthStatus?.ToString() ?? "no health"}) exit code {current?.Snapshot.ExitCode?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "-"}");
            if (_console.TryGetValue(resource.Name, out var lines))
            {
                foreach (var line in lines) report.AppendLine("    " + line);
            }
        }
        return report.ToString();
    }

    public async ValueTask DisposeAsync()
    {
        await _stopWatching.CancelAsync();
        using (var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
        {
            try
            {
                await App.StopAsync(stop.Token);
            }
            catch (OperationCanceledException)
            {
                // DCP kills what is left when the app is disposed.
            }
        }
        await App.DisposeAsync();
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
            // A server may still be flushing a file as it exits; the OS temp cleaner gets the rest.
        }
    }
}
