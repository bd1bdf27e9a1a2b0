namespace Pii.AppHost.Dashboard;

/// <summary>
/// What the dashboard needs from the orchestrator: the resources as they are now, and their console output.
/// The launcher implements it; the dashboard only reads it.
/// </summary>
public interface IResourceCatalog
{
    IReadOnlyList<ResourceSnapshot> GetResources();

    /// <summary>Console lines of one resource: what is buffered so far, then live lines until cancelled.</summary>
    IAsyncEnumerable<ConsoleLine> WatchConsoleAsync(string resourceName, CancellationToken cancellationToken);
}

/// <param name="Type">Executable, Project, Database, ObjectStore, KeyService, External …</param>
/// <param name="State">NotStarted, Waiting, Starting, Running, Exited, FailedToStart, Stopping, Finished</param>
/// <param name="Health">Healthy, Unhealthy, Unknown (shown beside the state, never instead of it)</param>
public sealed record ResourceSnapshot(
    string Name,
    string Type,
    string State,
    string Health,
    IReadOnlyList<string> Endpoints,
    int? Pid,
    DateTimeOffset? StartTime,
    int RestartCount,
    int? ExitCode,
    string? StateMessage);

public sealed record ConsoleLine(DateTimeOffset Time, string ResourceName, bool IsError, string Text);
