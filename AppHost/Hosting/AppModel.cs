using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;

namespace Pii.AppHost.Hosting;

/// <summary>Where the model keeps its state and how its processes are wired to telemetry.</summary>
public sealed class AppModelOptions
{
    /// <summary>The repository root (the folder holding PiiAspire.sln).</summary>
    public required string RepoRoot { get; init; }

    /// <summary>Server data (PostgreSQL, MariaDB, s3rver, key service stores); <c>.pii/data</c> for the AppHost.</summary>
    public required string DataRoot { get; init; }

    /// <summary>Generated secrets, one 0600 file each; <c>.pii/secrets</c> for the AppHost.</summary>
    public required string SecretsRoot { get; init; }

    /// <summary>Read for <c>Resources:&lt;name&gt;:…</c> (external resources).</summary>
    public IConfiguration Configuration { get; init; } = new ConfigurationBuilder().Build();

    public TextWriter Progress { get; init; } = TextWriter.Null;

    /// <summary>Durable servers fsync; test servers trade durability for speed (their data is thrown away).</summary>
    public bool Durable { get; init; } = true;

    /// <summary>The dashboard's OTLP/HTTP endpoint; null leaves the OTEL_EXPORTER_OTLP_* variables unset.</summary>
    public string? OtlpEndpoint { get; init; }

    public string? OtlpApiKey { get; init; }

    public string EnvironmentName { get; init; } = "Development";

    /// <summary>Build the project resources before running them (false: run what is already built).</summary>
    public bool BuildProjects { get; init; } = true;
}

/// <summary>The application model: resources added in dependency order, turned into a <see cref="Launcher"/>.</summary>
public sealed class AppModel
{
    private readonly List<Resource> _resources = [];
    private readonly HashSet<int> _ports = [];

    public AppModel(AppModelOptions options)
    {
        Options = options;
        Directory.CreateDirectory(options.DataRoot);
        Secrets = new SecretStore(options.SecretsRoot, options.Configuration);
        Projects = new ProjectBuild(options.RepoRoot, options.Progress, options.BuildProjects);
    }

    public AppModelOptions Options { get; }

    public SecretStore Secrets { get; }

    public ProjectBuild Projects { get; }

    public IReadOnlyList<Resource> Resources => _resources;

    public T Add<T>(T resource) where T : Resource
    {
        if (_resources.Any(r => r.Name == resource.Name)) throw new InvalidOperationException($"A resource named '{resource.Name}' exists already.");
        _resources.Add(resource);
        return resource;
    }

    /// <summary>The <c>Resources:&lt;name&gt;</c> configuration section (external endpoints, credentials).</summary>
    public IConfigurationSection ResourceConfiguration(string name) => Options.Configuration.GetSection($"Resources:{name}");

    /// <summary>
    /// A loopback port free on both 127.0.0.1 and ::1 (services listen on <c>localhost</c>, which is both), distinct
    /// from every port this model handed out before. It is drawn below the kernel's ephemeral range (32768–60999), so
    /// the outgoing connections of this busy machine cannot take it between now and the moment the service binds it.
    /// </summary>
    public int AllocatePort()
    {
        while (true)
        {
            var port = Random.Shared.Next(20_000, 32_000);
            if (!_ports.Contains(port) && IsFree(IPAddress.Loopback, port) && IsFree(IPAddress.IPv6Loopback, port))
            {
                _ports.Add(port);
                return port;
            }
        }
    }

    private static bool IsFree(IPAddress address, int port)
    {
        try
        {
            using var listener = new TcpListener(address, port);
            listener.Start();
            listener.Stop();
            return true;
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.AddressAlreadyInUse or SocketError.AddressNotAvailable)
        {
            // ::1 missing altogether (IPv6 off) does not make the port busy.
            return e.SocketErrorCode == SocketError.AddressNotAvailable;
        }
    }

    public string DataPath(string name) => Path.Combine(Options.DataRoot, name);

    public Launcher Build() => new(_resources, Options.Progress) { Registry = new ChildRegistry(Path.Combine(Options.DataRoot, "children.pids")) };

    /// <summary>The folder holding PiiAspire.sln, searched upwards from <paramref name="start"/>.</summary>
    public static string FindRepoRoot(string? start = null)
    {
        for (var directory = new DirectoryInfo(start ?? AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "PiiAspire.sln"))) return directory.FullName;
        }
        throw new InvalidOperationException($"PiiAspire.sln not found above {start ?? AppContext.BaseDirectory}.");
    }
}
