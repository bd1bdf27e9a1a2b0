namespace Pii.DocumentService;

/// <summary>The service's log messages: ids, types and routes only, never PII, keys or file names.</summary>
internal static partial class Log
{
    [LoggerMessage(Level = LogLevel.Information, Message = "Request {Path} ended by the client.")]
    public static partial void ClientGone(ILogger logger, string path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Title} ({Error}) on {Method} {Route}.")]
    public static partial void DependencyFailed(ILogger logger, string title, string error, string method, string? route);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not discard the upload of object {ObjectKey} ({Error}); the sweeper will remove it.")]
    public static partial void DiscardFailed(ILogger logger, string objectKey, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Sweeper discarded {Discarded} uploads and deleted {Deleted} orphan objects.")]
    public static partial void Swept(ILogger logger, int discarded, int deleted);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The S3 endpoint cannot list multipart uploads: the sweeper removes only those in its pending ledger. "
        + "Give the bucket a lifecycle rule AbortIncompleteMultipartUpload for the rest.")]
    public static partial void UploadListingUnsupported(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sweep failed ({Error}); retrying next interval.")]
    public static partial void SweepFailed(ILogger logger, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "PostgreSQL not reachable yet ({Error}); retrying.")]
    public static partial void DatabaseWait(ILogger logger, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Key service not reachable yet for the MRN index backfill ({Error}); retrying.")]
    public static partial void KeyServiceWait(ILogger logger, string error);

    [LoggerMessage(Level = LogLevel.Error, Message = "{Count} patients have no MRN index (their MRN is stored again by another patient, or does not decrypt), first ids: {PatientIds}. "
        + "They are kept but not found by MRN search; the old ciphertext unique index stays until they are merged or corrected.")]
    public static partial void MrnIndexIncomplete(ILogger logger, int count, string patientIds);

    [LoggerMessage(Level = LogLevel.Error, Message = "{Count} rows could not be re-encrypted bound to their record (they fail their integrity check), first ids: {Ids}. "
        + "They are kept and read as integrity failures until corrected.")]
    public static partial void RebindIncomplete(ILogger logger, int count, string ids);
}
