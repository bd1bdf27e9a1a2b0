using System.Net;
using Amazon.S3;
using Amazon.S3.Model;
using Microsoft.Extensions.Options;

namespace Pii.BackupService.Backups;

/// <summary>
/// The layout of the <c>backups</c> bucket:
/// <list type="bullet">
/// <item><c>data/{source}/{yyyy}/{MM}/{dd}/{id}.pii</c> — the encrypted, compressed dump (an ESDK message);</item>
/// <item><c>manifests/{source}/{id}.json</c> — written last: a backup exists only when its manifest does;</item>
/// <item><c>attempts/{source}/{id}.json</c> — attempts that failed, with the reason;</item>
/// <item><c>running/{id}.json</c> — backups in progress (what the start-up sweep cleans after a crash);</item>
/// <item><c>erasures/…</c> and <c>audit/…</c> — the erasure ledger and the audit trail (outside any backup).</item>
/// </list>
/// Every JSON record is authenticated (<see cref="SignedRecord"/>).
/// </summary>
internal sealed class BackupRepository(IAmazonS3 s3, BackupKeys keys, IOptions<BackupOptions> options)
{
    public string Bucket { get; } = options.Value.Bucket;

    public IAmazonS3 S3 => s3;

    public static string DataKey(string source, Guid id, DateTimeOffset at) => $"data/{source}/{at:yyyy}/{at:MM}/{at:dd}/{id:N}.pii";
    public static string ManifestKey(string source, Guid id) => $"manifests/{source}/{id:N}.json";
    public static string AttemptKey(string source, Guid id) => $"attempts/{source}/{id:N}.json";
    public static string RunningKey(Guid id) => $"running/{id:N}.json";

    public Task PutManifestAsync(Manifest manifest, CancellationToken cancellationToken) =>
        PutAsync(ManifestKey(manifest.Source, manifest.Id), SignedRecord.Encode(keys, "manifest", manifest), cancellationToken);

    public Task PutAttemptAsync(FailedAttempt attempt, CancellationToken cancellationToken) =>
        PutAsync(AttemptKey(attempt.Source, attempt.Id), SignedRecord.Encode(keys, "attempt", attempt), cancellationToken);

    public Task PutRunningAsync(RunningMarker marker, CancellationToken cancellationToken) =>
        PutAsync(RunningKey(marker.Id), SignedRecord.Encode(keys, "running", marker), cancellationToken);

    public Task DeleteRunningAsync(Guid id, CancellationToken cancellationToken) => s3.DeleteObjectAsync(Bucket, RunningKey(id), cancellationToken);

    public async Task<Manifest?> GetManifestAsync(string source, Guid id, CancellationToken cancellationToken)
    {
        var bytes = await GetAsync(ManifestKey(source, id), cancellationToken);
        return bytes is null ? null : SignedRecord.Decode<Manifest>(keys, "manifest", bytes);
    }

    /// <summary>Every manifest (records that fail authentication are skipped and counted, never trusted).</summary>
    public async Task<(List<Manifest> Manifests, int Rejected)> ListManifestsAsync(CancellationToken cancellationToken)
    {
        var manifests = new List<Manifest>();
        var rejected = 0;
        foreach (var key in await ListKeysAsync("manifests/", cancellationToken))
        {
            var bytes = await GetAsync(key, cancellationToken);
            if (bytes is null) continue;
            try
            {
                manifests.Add(SignedRecord.Decode<Manifest>(keys, "manifest", bytes));
            }
            catch (InvalidRecordException)
            {
                rejected++;
            }
        }
        return (manifests, rejected);
    }

    public async Task<List<FailedAttempt>> ListAttemptsAsync(CancellationToken cancellationToken)
    {
        var attempts = new List<FailedAttempt>();
        foreach (var key in await ListKeysAsync("attempts/", cancellationToken))
        {
            if (await GetAsync(key, cancellationToken) is not { } bytes) continue;
            try
            {
                attempts.Add(SignedRecord.Decode<FailedAttempt>(keys, "attempt", bytes));
            }
            catch (InvalidRecordException)
            {
                // An unauthenticated attempt record says nothing trustworthy; the sweep leaves it for an operator.
            }
        }
        return attempts;
    }

    public async Task<List<RunningMarker>> ListRunningAsync(CancellationToken cancellationToken)
    {
        var markers = new List<RunningMarker>();
        foreach (var key in await ListKeysAsync("running/", cancellationToken))
        {
            if (await GetAsync(key, cancellationToken) is not { } bytes) continue;
            try
            {
                markers.Add(SignedRecord.Decode<RunningMarker>(keys, "running", bytes));
            }
            catch (InvalidRecordException)
            {
                // Not ours to act on: a forged marker must not make the sweep delete a real backup.
            }
        }
        return markers;
    }

    public async Task<List<string>> ListKeysAsync(string prefix, CancellationToken cancellationToken)
    {
        var keys = new List<string>();
        string? token = null;
        do
        {
            var page = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = Bucket, Prefix = prefix, ContinuationToken = token }, cancellationToken);
            keys.AddRange((page.S3Objects ?? []).Select(o => o.Key));
            token = page.IsTruncated == true ? page.NextContinuationToken : null;
        }
        while (token is not null);
        return keys;
    }

    public async Task<byte[]?> GetAsync(string key, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await s3.GetObjectAsync(Bucket, key, cancellationToken);
            using var buffer = new MemoryStream();
            await response.ResponseStream.CopyToAsync(buffer, cancellationToken);
            return buffer.ToArray();
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    public async Task<bool> ExistsAsync(string key, CancellationToken cancellationToken)
    {
        try
        {
            await s3.GetObjectMetadataAsync(Bucket, key, cancellationToken);
            return true;
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }
    }

    public Task DeleteAsync(string key, CancellationToken cancellationToken) => s3.DeleteObjectAsync(Bucket, key, cancellationToken);

    public async Task PutAsync(string key, byte[] content, CancellationToken cancellationToken)
    {
        using var stream = new MemoryStream(content, writable: false);
        await s3.PutObjectAsync(new PutObjectRequest
        {
            BucketName = Bucket,
            Key = key,
            InputStream = stream,
            ContentType = "application/json",
            UseChunkEncoding = false,
        }, cancellationToken);
    }

    /// <summary>
    /// Aborts a multipart upload. An endpoint without AbortMultipartUpload (s3rver 3.7.1 answers 405) or one that no
    /// longer knows the upload (404) leaves nothing more to do through the API, so both count as done.
    /// </summary>
    public async Task AbortUploadAsync(string key, string uploadId, CancellationToken cancellationToken)
    {
        try
        {
            await s3.AbortMultipartUploadAsync(new AbortMultipartUploadRequest { BucketName = Bucket, Key = key, UploadId = uploadId }, cancellationToken);
        }
        catch (AmazonS3Exception e) when (e.StatusCode is HttpStatusCode.MethodNotAllowed or HttpStatusCode.NotImplemented or HttpStatusCode.NotFound)
        {
            // Nothing the API can still remove.
        }
    }
}
