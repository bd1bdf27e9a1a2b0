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
        var dcp = typeof(LocalResources).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "pii.dcpclipath").Value;
        return DistributedApplication.CreateBuilder(new DistributedApplicationOptions
        {
            DisableDashboard = true,
            Args =
            [
                $"--PiiAspire:StateDirectory={root}", "--PiiAspire:RandomPorts=true", "--PiiAspire:Durable=false",
                $"--DcpPublisher:CliPath={dcp}", .. settings.Select(s => "--" + s),
            ],
        });
    }

    /// <summary>Builds and starts the model and waits until every resource is healthy and provisioned (default: 3 minutes).</summary>
    public static async Task<LocalResources> StartAsync(IDistributedApplicationBuilder builder, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var root = Path.GetDirectoryName(LocalState.Of(builder).DataRoot)!;
        var app = builder.Build();
        var resources = new LocalResources(app, root);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout ?? TimeSpan.FromMinutes(3));
        try
        {
            await app.StartAsync(limit.Token);
            var notifications = app.Services.GetRequiredService<ResourceNotificationService>();
            var model = app.Services.GetRequiredService<DistributedApplicationModel>();
            await Task.WhenAll(model.Resources.Where(r => r is not ParameterResource).Select(r => notifications.WaitForResourceHealthyAsync(r.Name, limit.Token)));
            return resources;
        }
        catch (Exception e) when (e is OperationCanceledException or DistributedApplicationException or InvalidOperationException)
        {
            var report = await DescribeAsync(app);
            await resources.DisposeAsync();
            throw new InvalidOperationException($"Test resources did not start:{Environment.NewLine}{report}", e);
        }
    }

    /// <summary>Every resource's state and the tail of its console log: what a failed start needs to be understood.</summary>
    private static async Task<string> DescribeAsync(DistributedApplication app)
    {
        var report = new StringBuilder();
        var notifications = app.Services.GetRequiredService<ResourceNotificationService>();
        var logs = app.Services.GetRequiredService<ResourceLoggerService>();
        foreach (var resource in app.Services.GetRequiredService<DistributedApplicationModel>().Resources.Where(r => r is not ParameterResource))
        {
            notifications.TryGetCurrentState(resource.Name, out var current);
            report.AppendLine(System.Globalization.CultureInfo.InvariantCulture, $"{resource.Name}: {current?.Snapshot.State?.Text ?? "unknown"} ({current?.Snapshot.HealthStatus?.ToString() ?? "no health"})");
            var lines = new List<string>();
            using var quick = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            try
            {
                await foreach (var batch in logs.GetAllAsync(resource.Name).WithCancellation(quick.Token)) lines.AddRange(batch.Select(l => l.Content));
            }
            catch (OperationCanceledException)
            {
                // What arrived in two seconds is what there is.
            }
            foreach (var line in lines.TakeLast(20)) report.AppendLine("    " + line);
        }
        return report.ToString();
    }

    public async ValueTask DisposeAsync()
    {
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
