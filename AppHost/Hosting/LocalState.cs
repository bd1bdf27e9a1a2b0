using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.Configuration;

namespace Pii.AppHost.Hosting;

/// <summary>
/// Where a model keeps what must survive a restart, read once per builder from configuration:
/// <c>PiiAspire:StateDirectory</c> (default <c>&lt;repo&gt;/.pii</c>: <c>data/</c> for the servers, <c>secrets/</c> for generated
/// credentials, one 0600 file each), <c>PiiAspire:Durable</c> (default true; tests trade fsync for speed) and
/// <c>PiiAspire:RandomPorts</c> (default false: the fixed ports README lists; tests take free ones).
/// Generated secrets are Aspire parameters (secret) whose values live in <see cref="Secrets"/>, so a restart keeps
/// every credential, and <c>Parameters:&lt;name&gt;</c> in configuration overrides any of them.
/// </summary>
public sealed class LocalState
{
    private static readonly ConditionalWeakTable<IDistributedApplicationBuilder, LocalState> States = [];
    private readonly IDistributedApplicationBuilder _builder;
    private readonly Dictionary<string, IResourceBuilder<ParameterResource>> _parameters = new(StringComparer.Ordinal);
    private readonly HashSet<int> _ports = [];
    private readonly bool _randomPorts;

    private LocalState(IDistributedApplicationBuilder builder)
    {
        _builder = builder;
        var configuration = builder.Configuration;
        RepoRoot = FindRepoRoot();
        var root = Path.GetFullPath(configuration["PiiAspire:StateDirectory"] ?? Path.Combine(RepoRoot, ".pii"));
        DataRoot = Path.Combine(root, "data");
        Directory.CreateDirectory(DataRoot);
        Secrets = new SecretStore(Path.Combine(root, "secrets"), configuration);
        ApiKeys = new ApiKeys(Secrets);
        Durable = configuration.GetValue("PiiAspire:Durable", true);
        _randomPorts = configuration.GetValue("PiiAspire:RandomPorts", false);
    }

    public string RepoRoot { get; }

    public string DataRoot { get; }

    public SecretStore Secrets { get; }

    public ApiKeys ApiKeys { get; }

    /// <summary>Durable servers fsync; test servers do not (their data is thrown away).</summary>
    public bool Durable { get; }

    public IConfiguration Configuration => _builder.Configuration;

    public static LocalState Of(IDistributedApplicationBuilder builder) => States.GetValue(builder, b => new LocalState(b));

    public string DataPath(string name) => Path.Combine(DataRoot, name);

    /// <summary>
    /// The secret <paramref name="secretName"/> as an Aspire parameter: generated on first use into the secrets folder
    /// (a URL-safe random 32 bytes unless <paramref name="create"/> says otherwise) and read from there afterwards.
    /// </summary>
    public IResourceBuilder<ParameterResource> Secret(string secretName, Func<string>? create = null)
    {
        if (_parameters.TryGetValue(secretName, out var existing)) return existing;
        // File names keep their historical spelling (restarts of older state folders); resource names allow no '_'.
        var parameter = _builder.AddParameter(secretName.Replace('_', '-'), () => Secrets.GetOrCreate(secretName, create ?? (() => SecretStore.NewToken())), secret: true);
        _parameters[secretName] = parameter;
        return parameter;
    }

    /// <summary>The value of <see cref="Secret"/> (tests read credentials through it).</summary>
    public string SecretValue(string secretName, Func<string>? create = null) =>
        Secrets.GetOrCreate(secretName, create ?? (() => SecretStore.NewToken()));

    /// <summary>
    /// The port <paramref name="resourceName"/> listens on: <c>PiiAspire:Ports:&lt;name&gt;</c>, else
    /// <paramref name="fixedPort"/>, else (or with <c>PiiAspire:RandomPorts</c>) a free loopback port below the kernel's
    /// ephemeral range, so that outgoing connections cannot take it before the server binds it.
    /// </summary>
    public int PortFor(string resourceName, int? fixedPort)
    {
        if (Configuration[$"PiiAspire:Ports:{resourceName}"] is { } configured) return int.Parse(configured, CultureInfo.InvariantCulture);
        if (fixedPort is { } port && !_randomPorts) return port;
        lock (_ports)
        {
            while (true)
            {
                var candidate = Random.Shared.Next(20_000, 32_000);
                if (!_ports.Contains(candidate) && IsFree(IPAddress.Loopback, candidate) && IsFree(IPAddress.IPv6Loopback, candidate))
                {
                    _ports.Add(candidate);
                    return candidate;
                }
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

    /// <summary>The folder holding PiiAspire.sln, searched upwards from the running assembly.</summary>
    public static string FindRepoRoot(string? start = null)
    {
        for (var directory = new DirectoryInfo(start ?? AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "PiiAspire.sln"))) return directory.FullName;
        }
        throw new InvalidOperationException($"PiiAspire.sln not found above {start ?? AppContext.BaseDirectory}.");
    }
}
