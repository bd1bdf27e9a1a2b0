namespace Pii.AppHost.Hosting;

/// <summary>Aspire's state names (KnownResourceStates); health is reported beside the state, never instead of it.</summary>
public static class ResourceStates
{
    public const string NotStarted = "NotStarted";
    public const string Waiting = "Waiting";
    public const string Starting = "Starting";
    public const string Running = "Running";
    public const string Stopping = "Stopping";
    public const string Exited = "Exited";
    public const string FailedToStart = "FailedToStart";

    public static bool IsTerminal(string state) => state is Exited or FailedToStart;
}

public static class HealthStates
{
    public const string Healthy = "Healthy";
    public const string Unhealthy = "Unhealthy";
    public const string Unknown = "Unknown";
}

public sealed record HealthResult(bool IsHealthy, string Description)
{
    public static HealthResult Healthy(string description = "ok") => new(true, description);

    public static HealthResult Unhealthy(string description) => new(false, description);
}

/// <summary>One listening address of a resource; ports are allocated by the launcher (no proxy, as ASPIRE-CONVENTIONS.md §1.3).</summary>
public sealed record ResourceEndpoint(string Name, string Scheme, string Host, int Port)
{
    public string Url => $"{Scheme}://{Host}:{Port}";
}

/// <summary>Thrown to dependants when a resource they wait for fails; the message names the failing resource and why.</summary>
public sealed class ResourceFailedException(string message) : Exception(message);

/// <summary>
/// A node of the application model: a process, a database inside a server, a bucket, or an external endpoint.
/// The launcher drives it through Waiting → Starting → Running (→ Exited) or FailedToStart; <see cref="WhenReady"/>
/// completes once it is Running, healthy and provisioned, and fails with the reason otherwise.
/// </summary>
public class Resource(string name, string type)
{
    private readonly object _gate = new();
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private string _state = ResourceStates.NotStarted;
    private string _health = HealthStates.Unknown;
    private string? _message;

    public string Name { get; } = name;

    /// <summary>Executable, Project, Database, ObjectStore, Bucket, KeyService, External.</summary>
    public string Type { get; set; } = type;

    public ConsoleLog Log { get; } = new(name);

    public List<ResourceEndpoint> Endpoints { get; } = [];

    public List<Resource> WaitsFor { get; } = [];

    /// <summary>Work before the process starts (initdb, config files); a failure means FailedToStart.</summary>
    public List<Func<CancellationToken, Task>> BeforeStart { get; } = [];

    /// <summary>Provisioning after the first healthy probe (databases, users, keys); dependants wait for it.</summary>
    public List<Func<CancellationToken, Task>> OnReady { get; } = [];

    public Func<CancellationToken, Task<HealthResult>>? HealthCheck { get; set; }

    /// <summary>The process to launch; null for resources that live inside another (a database) or outside (external).</summary>
    public ProcessSpec? Process { get; set; }

    /// <summary>How long from Starting to healthy before the resource counts as FailedToStart.</summary>
    public TimeSpan StartupTimeout { get; set; } = TimeSpan.FromSeconds(120);

    public ChildProcess? Child { get; internal set; }

    public DateTimeOffset? StartTime { get; internal set; }

    public int RestartCount { get; internal set; }

    public int? ExitCode { get; internal set; }

    public string State { get { lock (_gate) return _state; } }

    public string Health { get { lock (_gate) return _health; } }

    public string? StateMessage { get { lock (_gate) return _message; } }

    public Task WhenReady => _ready.Task;

    public ResourceEndpoint? Endpoint(string name) => Endpoints.Find(e => e.Name == name);

    public void SetState(string state, string? message = null)
    {
        lock (_gate)
        {
            _state = state;
            _message = message;
            if (ResourceStates.IsTerminal(state) || state == ResourceStates.NotStarted) _health = HealthStates.Unknown;
        }
        Log.Append($"[apphost] {Name}: {state}{(message is null ? "" : " — " + message)}", isError: state == ResourceStates.FailedToStart);
    }

    public void SetHealth(string health)
    {
        lock (_gate) _health = health;
    }

    internal void MarkReady() => _ready.TrySetResult();

    internal void MarkFailed(string reason)
    {
        // Observed here so an unawaited failure (no dependants) never surfaces as an unobserved task exception.
        if (_ready.TrySetException(new ResourceFailedException($"'{Name}' failed: {reason}"))) _ = _ready.Task.Exception;
    }

    public override string ToString() => $"{Name} ({Type})";
}

/// <summary>What to execute for a process resource.</summary>
public sealed class ProcessSpec(string fileName)
{
    public string FileName { get; } = fileName;

    public List<string> Arguments { get; } = [];

    public string? WorkingDirectory { get; set; }

    /// <summary>Added to the inherited environment (a null value removes the variable).</summary>
    public Dictionary<string, string?> Environment { get; } = new(StringComparer.Ordinal);

    /// <summary>Run as this system user (through setpriv, which execs in place) when the launcher is root.</summary>
    public string? RunAsUser { get; set; }

    /// <summary>The graceful stop signal: SIGTERM, or SIGINT for PostgreSQL's fast shutdown.</summary>
    public int StopSignal { get; set; } = Native.SigTerm;
}
