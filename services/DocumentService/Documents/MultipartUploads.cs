using System.Net;
using Amazon.S3;
using Amazon.S3.Model;

namespace Pii.DocumentService.Documents;

/// <summary>
/// Ends multipart uploads that will never complete, so their parts do not stay in the bucket, and lists the ones the
/// endpoint still holds.
/// </summary>
internal static class MultipartUploads
{
    /// <summary>
    /// Aborts the upload. An endpoint that does not implement AbortMultipartUpload (s3rver 3.7.1 answers 405) still
    /// removes an upload's whole folder of parts when the upload completes, so there the upload is completed as one
    /// empty part and the resulting object is deleted: nothing of it stays. An upload the endpoint no longer knows
    /// (404 NoSuchUpload; on s3rver a failed completion) is already gone.
    /// </summary>
    public static async Task DiscardAsync(IAmazonS3 s3, string bucket, string objectKey, string uploadId, CancellationToken cancellationToken)
    {
        try
        {
            await s3.AbortMultipartUploadAsync(new AbortMultipartUploadRequest { BucketName = bucket, Key = objectKey, UploadId = uploadId }, cancellationToken);
            return;
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            return;
        }
        catch (AmazonS3Exception e) when (e.StatusCode is HttpStatusCode.MethodNotAllowed or HttpStatusCode.NotImplemented)
        {
            // No abort here: discard by completing, below.
        }
        // Part 1 is (re)written first: s3rver completes by reading the listed part files and exits on a missing one.
        using var empty = new MemoryStream([], writable: false);
        var part = await s3.UploadPartAsync(new UploadPartRequest
        {
            BucketName = bucket,
            Key = objectKey,
            UploadId = uploadId,
            PartNumber = 1,
            PartSize = 0,
            InputStream = empty,
            UseChunkEncoding = false,
        }, cancellationToken);
        try
        {
            await s3.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
            {
                BucketName = bucket,
                Key = objectKey,
                UploadId = uploadId,
                PartETags = [new PartETag(1, part.ETag)],
            }, cancellationToken);
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.InternalServerError)
        {
            // With part 1 in place, s3rver fails a completion only when it has no such upload (its folder then lacks the
            // upload's key file: the upload was completed or discarded before, and its ledger entry outlived it). The
            // part just written stays as an empty file in ._S3rver_uploads/{uploadId}; nothing else is left.
            return;
        }
        await s3.DeleteObjectAsync(bucket, objectKey, cancellationToken);
    }

    /// <summary>
    /// Uploads under <paramref name="prefix"/> started before <paramref name="cutoff"/>, or null when the endpoint cannot
    /// list uploads (s3rver 3.7.1 answers ListMultipartUploads with 501).
    /// </summary>
    public static async Task<IReadOnlyList<MultipartUpload>?> ListStartedBeforeAsync(
        IAmazonS3 s3, string bucket, string prefix, DateTime cutoff, CancellationToken cancellationToken)
    {
        var found = new List<MultipartUpload>();
        var request = new ListMultipartUploadsRequest { BucketName = bucket, Prefix = prefix };
        while (true)
        {
            ListMultipartUploadsResponse page;
            try
            {
                page = await s3.ListMultipartUploadsAsync(request, cancellationToken);
            }
            catch (AmazonS3Exception e) when (e.StatusCode is HttpStatusCode.MethodNotAllowed or HttpStatusCode.NotImplemented)
            {
                return null;
            }
            found.AddRange((page.MultipartUploads ?? []).Where(u => u.Initiated is { } started && started.ToUniversalTime() < cutoff));
            if (page.IsTruncated != true) return found;
            request.KeyMarker = page.NextKeyMarker;
            request.UploadIdMarker = page.NextUploadIdMarker;
        }
    }
}
