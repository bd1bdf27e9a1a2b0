namespace Pii.FormApi;

/// <summary>FormApi's log messages. None carries a field value: ids, counts and exception type names only.</summary>
internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Information, "Schema at version {Version} ({Ran} migrations applied now)")]
    public static partial void SchemaReady(ILogger logger, int version, int ran);

    [LoggerMessage(2, LogLevel.Information, "Re-encryption job {JobId} running")]
    public static partial void JobRunning(ILogger logger, Guid jobId);

    [LoggerMessage(3, LogLevel.Information, "Re-encryption job {JobId} stopped (completed: {Completed})")]
    public static partial void JobStopped(ILogger logger, Guid jobId, bool completed);

    [LoggerMessage(4, LogLevel.Error, "Re-encryption job step failed: {ErrorType}")]
    public static partial void JobFailed(ILogger logger, string errorType);
}
