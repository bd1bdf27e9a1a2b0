using Microsoft.Extensions.Configuration;

namespace Pii.AppHost.Hosting;

/// <summary>
/// The launcher for tests: declare only the resources a test needs on a model from <see cref="CreateModel"/> (temp
/// data and secrets folders, free ports, no fsync), then <see cref="StartAsync"/> them and read their connection
/// strings. Dispose stops every process and deletes the folders. Parallel test assemblies never collide.
/// </summary>
/// <example>
/// <code>
/// var model = LocalResources.CreateModel("records-tests");
/// var records = model.AddPostgres("postgres").AddDatabase("records");
/// var login = records.AddUser("documentservice", new PostgresAccess.SchemaOwner("documents"));
/// await using var resources = await LocalResources.StartAsync(model);
/// // login.ConnectionString → Host=127.0.0.1;Port=…;Username=documentservice;Password=…;Database=records
/// </code>
/// </example>
public sealed class LocalResources : IAsyncDisposable
{
    private readonly string _root;

    private LocalResources(Launcher launcher, string root)
    {
        Launcher = launcher;
        _root = root;
    }

    public Launcher Launcher { get; }

    public Resource this[string name] => Launcher[name];

    /// <summary>A model rooted in a fresh temp folder; <paramref name="configuration"/> may make resources external.</summary>
    public static AppModel CreateModel(string name, IConfiguration? configuration = null, TextWriter? progress = null)
    {
        // Short: MariaDB's socket path inside it must stay under the 108-byte sun_path limit.
        var root = Path.Combine(Path.GetTempPath(), $"piiaspire-{name}-{Guid.NewGuid().ToString("N")[..12]}");
        Directory.CreateDirectory(root);
        return new AppModel(new AppModelOptions
        {
            RepoRoot = AppModel.FindRepoRoot(),
            DataRoot = Path.Combine(root, "data"),
            SecretsRoot = Path.Combine(root, "secrets"),
            Configuration = configuration ?? new ConfigurationBuilder().Build(),
            Progress = progress ?? TextWriter.Null,
            Durable = false,
        });
    }

    /// <summary>Starts every resource of <paramref name="model"/> and waits until all are ready (default: 3 minutes).</summary>
    public static async Task<LocalResources> StartAsync(AppModel model, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var launcher = model.Build();
        var resources = new LocalResources(launcher, Path.GetDirectoryName(model.Options.DataRoot)!);
        launcher.Start();
        try
        {
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            limit.CancelAfter(timeout ?? TimeSpan.FromMinutes(3));
            await launcher.WaitForAllReadyAsync(limit.Token);
            return resources;
        }
        catch (Exception e) when (e is ResourceFailedException or OperationCanceledException)
        {
            var states = string.Join(Environment.NewLine, launcher.Resources.Select(r => $"{r.Name}: {r.State} ({r.Health}) {r.StateMessage}"));
            await resources.DisposeAsync();
            throw new InvalidOperationException($"Test resources did not start:{Environment.NewLine}{states}", e);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Launcher.DisposeAsync();
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
