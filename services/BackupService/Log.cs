namespace Pii.BackupService;

/// <summary>Source-generated log messages: ids, source names, sizes and exception type names only.</summary>
internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Information, "audit {Action} source={Source} backup={BackupId} actor={Actor} outcome={Outcome}")]
    public static partial void Audit(ILogger logger, string action, string source, Guid? backupId, string actor, string outcome);

    [LoggerMessage(2, LogLevel.Information, "Backup {BackupId} of {Source} completed: {PlaintextBytes} dump bytes, {ObjectBytes} stored, {Seconds:F1} s")]
    public static partial void BackupCompleted(ILogger logger, Guid backupId, string source, long plaintextBytes, long objectBytes, double seconds);

    [LoggerMessage(3, LogLevel.Error, "Backup {BackupId} of {Source} failed: {Reason}")]
    public static partial void BackupFailed(ILogger logger, Guid backupId, string source, string reason);

    [LoggerMessage(4, LogLevel.Warning, "Key service unavailable ({Error}): backup {BackupId} of {Source} is wrapped for the recovery key only")]
    public static partial void RecoveryOnly(ILogger logger, Guid backupId, string source, string error);

    [LoggerMessage(5, LogLevel.Warning, "Clean-up of backup {BackupId} incomplete ({Error}); the start-up sweep retries")]
    public static partial void CleanupFailed(ILogger logger, Guid backupId, string error);

    [LoggerMessage(6, LogLevel.Warning, "Swept interrupted backup {BackupId} of {Source}")]
    public static partial void Swept(ILogger logger, Guid backupId, string source);

    [LoggerMessage(7, LogLevel.Warning, "{Task} failed: {Error}")]
    public static partial void BackgroundFailed(ILogger logger, string task, string error);

    [LoggerMessage(8, LogLevel.Error, "Restore drill of {Source} failed: {Reason}")]
    public static partial void DrillFailed(ILogger logger, string source, string reason);

    [LoggerMessage(9, LogLevel.Warning, "{Count} stored records failed authentication and were ignored")]
    public static partial void RejectedRecords(ILogger logger, int count);
}
