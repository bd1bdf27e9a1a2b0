using System.Diagnostics;
using Pii.AppHost.Dashboard;

namespace Pii.AppHost.Hosting;

/// <summary>
/// Runs an application model: every resource concurrently, each first waiting for what it depends on (Running,
/// healthy and provisioned), then started, probed until healthy, provisioned, and watched. A dependency that fails
/// fails its dependants with its reason; a process that crashes shows as Exited with its last lines while the rest
/// keep running. Stop sends every child its stop signal at once, waits <see cref="StopGrace"/>, then kills groups.
/// </summary>
public sealed class Launcher(IReadOnlyList<Resource> resources, TextWriter progress) : IResourceCatalog, IAsyncDisposable
{
    private static readonly TimeSpan HealthyPollInterval = TimeSpan.FromSeconds(5);
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<Task> _runs = [];
    private readonly Lock _launchGate = new();
    private int _stopped;

    public IReadOnlyList<Resource> Resources { get; } = resources;

    public TimeSpan StopGrace { get; init; } = TimeSpan.FromSeconds(6);

    /// <summary>Where started process groups are recorded, so a later launcher can stop what a killed one left.</summary>
    public ChildRegistry? Registry { get; init; }

    public Resource this[string name] => Resources.FirstOrDefault(r => r.Name == name) ?? throw new KeyNotFoundException($"No resource named '{name}'.");

    /// <summary>Starts every resource; returns at once. Use <see cref="WaitForAllReadyAsync"/> to wait for them.</summary>
    public void Start()
    {
        foreach (var resource in Resources) _runs.Add(Task.Run(() => RunAsync(resource, _stopping.Token)));
    }

    /// <summary>Waits until every resource is ready; throws the first failure (with its reason) otherwise.</summary>
    public async Task WaitForAllReadyAsync(CancellationToken cancellationToken)
    {
        foreach (var resource in Resources) await resource.WhenReady.WaitAsync(cancellationToken);
    }

    private async Task RunAsync(Resource resource, CancellationToken stopping)
    {
        var clock = Stopwatch.StartNew();
        try
        {
            if (resource.WaitsFor.Count > 0)
            {
                resource.SetState(ResourceStates.Waiting, "waiting for " + string.Join(", ", resource.WaitsFor.Select(d => d.Name)));
                foreach (var dependency in resource.WaitsFor)
                {
                    try
                    {
                        await dependency.WhenReady.WaitAsync(stopping);
                    }
                    catch (ResourceFailedException)
                    {
                        throw new ResourceFailedException($"dependency '{dependency.Name}' is {dependency.State}: {FirstLine(dependency.StateMessage)}");
                    }
                }
            }

            resource.SetState(ResourceStates.Starting);
            clock.Restart();
            foreach (var step in resource.BeforeStart) await step(stopping);
            if (resource.Process is not null) LaunchProcess(resource);
            else resource.SetState(ResourceStates.Running);

            await WaitHealthyAsync(resource, stopping);
            foreach (var step in resource.OnReady) await step(stopping);
            resource.MarkReady();
            progress.WriteLine($"  {resource.Name,-20} ready in {clock.Elapsed.TotalSeconds:0.0} s");
            await MonitorHealthAsync(resource, stopping);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            resource.MarkFailed("the AppHost is stopping");
        }
        catch (Exception e)
        {
            // Anything else (a provisioning call timing out included) fails this resource and, through it, its dependants.
            var reason = e is ResourceFailedException ? e.Message : $"{e.GetType().Name}: {e.Message}";
            if (resource.Child is { } child && !child.HasExited)
            {
                // Stopping first: the process's exit is the consequence, and must not be reported as the cause.
                resource.SetState(ResourceStates.Stopping);
                await child.StopAsync(StopGrace);
            }
            if (!ResourceStates.IsTerminal(resource.State)) resource.SetState(ResourceStates.FailedToStart, reason);
            resource.MarkFailed(resource.StateMessage ?? reason);
            progress.WriteLine($"  {resource.Name,-20} {resource.State}: {FirstLine(resource.StateMessage)}");
        }
    }

    public static string FirstLine(string? text) => text is null ? "" : text.Split('\n', 2)[0].TrimEnd();

    private void LaunchProcess(Resource resource)
    {
        ChildProcess child;
        // Launch and the start of a stop are mutually exclusive, so a stop always sees every child launched before it.
        lock (_launchGate)
        {
            _stopping.Token.ThrowIfCancellationRequested();
            child = ChildProcess.Start(resource.Process!, resource.Log);
            resource.Child = child;
        }
        Registry?.Record(child.Pid);
        resource.StartTime = DateTimeOffset.UtcNow;
        resource.ExitCode = null;
        resource.SetState(ResourceStates.Running);
        _ = child.Exited.ContinueWith(_ => OnProcessExitedAsync(resource, child), TaskScheduler.Default).Unwrap();
    }

    private async Task OnProcessExitedAsync(Resource resource, ChildProcess child)
    {
        if (!ReferenceEquals(resource.Child, child)) return;
        resource.ExitCode = child.ExitCode;
        // A stop (AppHost shutdown, restart, or a failed start step) reports its own final state.
        if (_stopping.IsCancellationRequested || resource.State is ResourceStates.Stopping or ResourceStates.FailedToStart) return;
        await child.DrainOutputAsync(TimeSpan.FromSeconds(1));
        var message = $"exited with code {child.ExitCode}; last lines:{Environment.NewLine}{resource.Log.Tail(10)}";
        resource.SetState(ResourceStates.Exited, message);
        resource.MarkFailed(message);
        // The group may still hold children of the crashed process; they must not outlive it.
        Native.SignalGroup(child.GroupId, Native.SigKill);
        progress.WriteLine($"  {resource.Name,-20} exited with code {child.ExitCode} (see its console log)");
    }

    private static async Task WaitHealthyAsync(Resource resource, CancellationToken stopping)
    {
        if (resource.HealthCheck is null)
        {
            resource.SetHealth(HealthStates.Healthy);
            return;
        }
        var deadline = DateTime.UtcNow + resource.StartupTimeout;
        var delay = TimeSpan.FromMilliseconds(100);
        var last = HealthResult.Unhealthy("not probed yet");
        while (true)
        {
            if (resource.Child is { HasExited: true } child)
            {
                await child.DrainOutputAsync(TimeSpan.FromSeconds(1));
                throw new ResourceFailedException($"exited with code {child.ExitCode} before becoming healthy; last lines:{Environment.NewLine}{resource.Log.Tail(10)}");
            }
            last = await resource.HealthCheck(stopping);
            if (last.IsHealthy)
            {
                resource.SetHealth(HealthStates.Healthy);
                return;
            }
            resource.SetHealth(HealthStates.Unhealthy);
            if (DateTime.UtcNow > deadline)
            {
                throw new ResourceFailedException($"not healthy after {resource.StartupTimeout.TotalSeconds:0} s: {last.Description}");
            }
            await Task.Delay(delay, stopping);
            delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 1.5, 1000));
        }
    }

    private static async Task MonitorHealthAsync(Resource resource, CancellationToken stopping)
    {
        if (resource.HealthCheck is null) return;
        while (resource.State == ResourceStates.Running)
        {
            var healthy = resource.Health == HealthStates.Healthy;
            await Task.Delay(healthy ? HealthyPollInterval : TimeSpan.FromSeconds(1), stopping);
            if (resource.State != ResourceStates.Running) return;
            var result = await resource.HealthCheck(stopping);
            resource.SetHealth(result.IsHealthy ? HealthStates.Healthy : HealthStates.Unhealthy);
        }
    }

    /// <summary>Stops one process resource and starts it again with the same specification.</summary>
    public async Task RestartAsync(string name, CancellationToken cancellationToken)
    {
        var resource = this[name];
        if (resource.Process is null) throw new InvalidOperationException($"'{name}' is not a process resource.");
        if (resource.Child is { } old)
        {
            resource.SetState(ResourceStates.Stopping);
            await old.StopAsync(StopGrace);
        }
        resource.RestartCount++;
        LaunchProcess(resource);
        await WaitHealthyAsync(resource, cancellationToken);
    }

    /// <summary>Ctrl+C semantics: every child gets its stop signal concurrently, then the grace, then SIGKILL.</summary>
    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 1) return;
        lock (_launchGate) _stopping.Cancel();
        await Task.WhenAll(Resources.Select(StopResourceAsync));
        await Task.WhenAll(_runs).WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(_ => { }, TaskScheduler.Default);
    }

    private async Task StopResourceAsync(Resource resource)
    {
        if (resource.Child is not { } child)
        {
            if (resource.State == ResourceStates.Running) resource.SetState(ResourceStates.Exited, "stopped");
            return;
        }
        var wasRunning = !child.HasExited;
        if (wasRunning) resource.SetState(ResourceStates.Stopping);
        await child.StopAsync(StopGrace);
        if (wasRunning)
        {
            resource.ExitCode = child.ExitCode;
            resource.SetState(ResourceStates.Exited, $"stopped (exit code {child.ExitCode})");
        }
    }

    public IReadOnlyList<ResourceSnapshot> GetResources() => [.. Resources.Select(Snapshot)];

    public static ResourceSnapshot Snapshot(Resource r) => new(
        r.Name, r.Type, r.State, r.Health, [.. r.Endpoints.Select(e => e.Url)],
        r.Child is { HasExited: false } child ? child.Pid : null,
        r.StartTime, r.RestartCount, r.ExitCode, r.StateMessage);

    public IAsyncEnumerable<ConsoleLine> WatchConsoleAsync(string resourceName, CancellationToken cancellationToken) =>
        this[resourceName].Log.WatchAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _stopping.Dispose();
    }
}
