using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Microsoft.Extensions.Options;

namespace Pii.DocumentService.Documents;

/// <summary>
/// Removes what a failed upload may leave behind when even its clean-up failed (S3 or the database down, process killed):
/// multipart uploads older than <see cref="DocumentOptions.OrphanMinAge"/>, those in the pending ledger and, where the
/// endpoint can list them, every one under <c>patients/</c> (an upload started just before a crash may never have
/// reached the ledger), are discarded; objects under <c>patients/</c> that no metadata row or pending upload
/// references, older than that age, are deleted.
/// </summary>
internal sealed class OrphanSweeper(IAmazonS3 s3, DocumentCatalog catalog, IOptions<DocumentOptions> options, TimeProvider time, ILogger<OrphanSweeper> logger)
    : BackgroundService
{
    private const string Prefix = "patients/";
    private readonly DocumentOptions _options = options.Value;
    private bool _listingUnsupportedLogged;

    /// <summary>One pass; returns (discarded uploads, deleted objects).</summary>
    public async Task<(int Discarded, int Deleted)> SweepAsync(TimeSpan minAge, CancellationToken cancellationToken)
    {
        var cutoff = (time.GetUtcNow() - minAge).UtcDateTime;
        var discarded = 0;
        foreach (var (uploadId, objectKey) in await catalog.PendingOlderThanAsync(cutoff, cancellationToken))
        {
            await MultipartUploads.DiscardAsync(s3, _options.Bucket, objectKey, uploadId, cancellationToken);
            await catalog.RemovePendingAsync(uploadId, cancellationToken);
            discarded++;
        }
        discarded += await DiscardListedAsync(cutoff, cancellationToken);
        var deleted = 0;
        string? token = null;
        do
        {
            var page = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = _options.Bucket, Prefix = Prefix, ContinuationToken = token }, cancellationToken);
            foreach (var item in page.S3Objects ?? [])
            {
                if (item.LastModified is { } modified && modified.ToUniversalTime() >= cutoff) continue;
                if (await catalog.HasObjectAsync(item.Key, cancellationToken)) continue;
                await s3.DeleteObjectAsync(_options.Bucket, item.Key, cancellationToken);
                deleted++;
            }
            token = page.IsTruncated == true ? page.NextContinuationToken : null;
        }
        while (token is not null);
        return (discarded, deleted);
    }

    private async Task<int> DiscardListedAsync(DateTime cutoff, CancellationToken cancellationToken)
    {
        var uploads = await MultipartUploads.ListStartedBeforeAsync(s3, _options.Bucket, Prefix, cutoff, cancellationToken);
        if (uploads is null)
        {
            if (!_listingUnsupportedLogged) Log.UploadListingUnsupported(logger);
            _listingUnsupportedLogged = true;
            return 0;
        }
        foreach (var upload in uploads)
        {
            await MultipartUploads.DiscardAsync(s3, _options.Bucket, upload.Key, upload.UploadId, cancellationToken);
            await catalog.RemovePendingAsync(upload.UploadId, cancellationToken);
        }
        return uploads.Count;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(_options.SweepInterval, time, stoppingToken);
                var (discarded, deleted) = await SweepAsync(_options.OrphanMinAge, stoppingToken);
                if (discarded + deleted > 0) Log.Swept(logger, discarded, deleted);
            }
            catch (Exception e) when (e is AmazonServiceException or HttpRequestException or Npgsql.NpgsqlException)
            {
                Log.SweepFailed(logger, e.GetType().Name);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
        }
    }
}
