using System.Buffers;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Microsoft.Extensions.Options;
using Pii.Crypto;
using Pii.Crypto.Fields;
using Pii.Crypto.Streams;
using Pii.Crypto.Streams.Keyrings;
using Pii.Crypto.Tiers;
using Pii.DocumentService.Auth;
using Pii.DocumentService.Keys;

namespace Pii.DocumentService.Documents;

internal sealed record DocumentInfo(Guid Id, Guid PatientId, string FileName, string ContentType, long Size, long StoredSize, int FrameLength,
    string KeyReferences, string UploadedBy, DateTime UploadedAt);

/// <summary>The outcome of an upload that did not fail on a dependency.</summary>
internal enum UploadOutcome
{
    Stored,
    Empty,
    TooLarge,
}

/// <summary>
/// Upload: request body → HMAC-SHA256 of the plaintext → <see cref="EncryptingStream"/> (ESDK message, transit keyring
/// plus an optional recovery RSA key) → <see cref="S3MultipartWriteStream"/>. The object key and the encryption context
/// carry only random ids (<c>document</c>, <c>patient</c>). The document is visible only when the multipart upload
/// completed and the metadata row committed; on any failure the multipart upload is discarded (and, if S3 is unreachable
/// even for that, the pending-upload ledger lets the sweeper abort it later).
/// Download: <see cref="RangeDecryptor"/> over S3 ranged GETs, the header served from the stored prefix.
/// </summary>
internal sealed class DocumentStore(
    IAmazonS3 s3, DocumentCatalog catalog, IKeyring keyring, TieredFieldProtector protector, DocumentKeys keys, IOptions<DocumentOptions> options,
    TimeProvider time, ILogger<DocumentStore> logger)
{
    public const string Purpose = "documents";
    private const int ReadChunk = 256 * 1024;

    // End marker, sequence number, IV, content length and tag around a final frame (STREAM-FORMAT.md §3.2).
    private const int FinalFrameOverhead = 4 + 4 + 12 + 4 + 16;
    private readonly DocumentOptions _options = options.Value;

    public static PiiSchema.Builder Declare(PiiSchema.Builder schema) => schema.PiiField("documents", "file_name", Tier.Two);

    /// <summary>
    /// How a row's file-name ciphertext is bound (<c>field_binding</c>): 1 = to the document id only (rows stored before
    /// version 2); 2 = to the document id and its patient id, so a row moved to another patient no longer decrypts.
    /// </summary>
    public const short CurrentBinding = 2;

    public string KeyReferences { get; set; } = """[{"provider":"pii-transit","key":"documents"}]""";

    public async Task<(UploadOutcome Outcome, DocumentInfo? Document)> UploadAsync(
        Guid patientId, string fileName, string contentType, Stream body, ClaimsPrincipal user, CancellationToken cancellationToken)
    {
        // Pooled: a fresh 256 KiB array per upload would be large-object garbage that only a full collection reclaims.
        var buffer = ArrayPool<byte>.Shared.Rent(ReadChunk);
        try
        {
            return await UploadAsync(patientId, fileName, contentType, body, buffer, user, cancellationToken);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(buffer);
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async Task<(UploadOutcome Outcome, DocumentInfo? Document)> UploadAsync(
        Guid patientId, string fileName, string contentType, Stream body, byte[] buffer, ClaimsPrincipal user, CancellationToken cancellationToken)
    {
        var index = await keys.GetIndexKeysAsync(cancellationToken);
        var count = await body.ReadAsync(buffer, cancellationToken);
        if (count == 0) return (UploadOutcome.Empty, null);

        var id = Guid.CreateVersion7();
        var objectKey = $"patients/{patientId:N}/{id:N}";
        var started = await s3.InitiateMultipartUploadAsync(new InitiateMultipartUploadRequest { BucketName = _options.Bucket, Key = objectKey }, cancellationToken);
        var uploadId = started.UploadId;
        var completed = false;
        using var sink = new S3MultipartWriteStream(s3, _options.Bucket, objectKey, uploadId, _options.PartSize, _options.MaxPartsInFlight)
        {
            SuffixCapacity = _options.FrameLength + FinalFrameOverhead,
        };
        try
        {
            await catalog.AddPendingAsync(uploadId, objectKey, time.GetUtcNow().UtcDateTime, cancellationToken);
            using var hmac = index.CreateContentHmac();
            long plaintextLength = 0;
            var context = new Dictionary<string, string> { ["document"] = id.ToString(), ["patient"] = patientId.ToString() };
            var encrypting = await StreamEncryptor.CreateAsync(sink, keyring, context, new StreamEncryptionOptions { FrameLength = _options.FrameLength },
                leaveOpen: true, cancellationToken);
            await using (encrypting)
            {
                while (count > 0)
                {
                    plaintextLength += count;
                    if (plaintextLength > _options.MaxUploadBytes)
                    {
                        await sink.DrainAsync();
                        await CleanUpAsync(objectKey, uploadId, completed: false);
                        return (UploadOutcome.TooLarge, null);
                    }
                    hmac.AppendData(buffer, 0, count);
                    await encrypting.WriteAsync(buffer.AsMemory(0, count), cancellationToken);
                    count = await body.ReadAsync(buffer, cancellationToken);
                }
                await encrypting.CompleteAsync(cancellationToken);
            }
            await sink.CompleteAsync(cancellationToken);
            completed = true;

            var row = new DocumentRow(id, patientId, objectKey,
                (await ProtectFileNameAsync(id, patientId, fileName, cancellationToken))!, index.FileName.Compute(fileName), contentType, plaintextLength,
                sink.BytesWritten, _options.FrameLength, sink.Prefix.ToArray(), sink.LastWrite.ToArray(), KeyReferences, hmac.GetHashAndReset(), Roles.Of(user),
                time.GetUtcNow().UtcDateTime, CurrentBinding);
            await catalog.CommitAsync(row, uploadId, cancellationToken);
            return (UploadOutcome.Stored, ToInfo(row, fileName));
        }
        catch
        {
            await sink.DrainAsync();
            await CleanUpAsync(objectKey, uploadId, completed);
            throw;
        }
        finally
        {
            if (!completed) await sink.DrainAsync();
        }
    }

    /// <summary>Best effort, never with the request's token (a disconnected client must still get its upload discarded).</summary>
    private async Task CleanUpAsync(string objectKey, string uploadId, bool completed)
    {
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        try
        {
            if (completed)
            {
                await s3.DeleteObjectAsync(_options.Bucket, objectKey, limit.Token);
            }
            else
            {
                await MultipartUploads.DiscardAsync(s3, _options.Bucket, objectKey, uploadId, limit.Token);
            }
            await catalog.RemovePendingAsync(uploadId, limit.Token);
        }
        catch (Exception e) when (e is AmazonServiceException or HttpRequestException or OperationCanceledException or Npgsql.NpgsqlException)
        {
            Log.DiscardFailed(logger, objectKey, e is AmazonServiceException s3 ? $"{e.GetType().Name} {s3.StatusCode} {s3.ErrorCode}" : e.GetType().Name);
        }
    }

    public async Task<DocumentInfo> DescribeAsync(DocumentRow row, CancellationToken cancellationToken) =>
        ToInfo(row, await UnprotectFileNameAsync(row, cancellationToken));

    /// <summary>
    /// Opens a stored document for reading; checks that the object's authenticated encryption context is exactly this
    /// row's (document and patient), so a row moved to another patient or pointed at another object fails. Range
    /// reads take the header and the final frame from the copies kept with the metadata (one S3 GET fewer each);
    /// <paramref name="wholeFromStorage"/> (a whole download) fetches every byte from S3, so a corrupted header or final
    /// frame in storage fails the download instead of going unnoticed.
    /// </summary>
    public async Task<RangeDecryptor> OpenAsync(DocumentRow row, bool wholeFromStorage, CancellationToken cancellationToken)
    {
        var prefix = wholeFromStorage ? [] : row.CiphertextPrefix;
        var suffix = wholeFromStorage ? [] : row.CiphertextSuffix;
        var suffixStart = row.CiphertextLength - suffix.Length;
        CiphertextRangeReader read = async (offset, destination, ct) =>
        {
            var count = destination.Length;
            if (offset + count <= prefix.Length)
            {
                prefix.AsMemory((int)offset, count).CopyTo(destination);
                return count;
            }
            if (offset >= suffixStart && offset + count <= row.CiphertextLength)
            {
                suffix.AsMemory((int)(offset - suffixStart), count).CopyTo(destination);
                return count;
            }
            using var response = await s3.GetObjectAsync(new GetObjectRequest
            {
                BucketName = _options.Bucket,
                Key = row.ObjectKey,
                ByteRange = new ByteRange(offset, offset + count - 1),
            }, ct);
            return await response.ResponseStream.ReadAtLeastAsync(destination, count, throwOnEndOfStream: false, ct);
        };
        var decryptor = await RangeDecryptor.OpenAsync(read, row.CiphertextLength, keyring, cancellationToken: cancellationToken);
        if (!MatchesRow(decryptor.EncryptionContext, row) || decryptor.PlaintextLength != row.PlaintextLength)
        {
            decryptor.Dispose();
            throw new TamperedException("The stored object does not belong to this document.");
        }
        return decryptor;
    }

    /// <summary>Every entry of the context is checked: exactly the document and patient ids the row names.</summary>
    private static bool MatchesRow(IReadOnlyDictionary<string, string> context, DocumentRow row) =>
        context.Count == 2
        && context.TryGetValue("document", out var document) && document == row.Id.ToString()
        && context.TryGetValue("patient", out var patient) && patient == row.PatientId.ToString();

    /// <summary>
    /// Start-up migration of binding version 1: for each such row, the object's authenticated context must name the row's
    /// document and patient (<see cref="OpenAsync"/> on the header kept with the metadata), then the file name is
    /// re-encrypted bound to both. Returns the ids of rows that failed the check (left at version 1: they read as
    /// integrity failures until corrected).
    /// </summary>
    public async Task<IReadOnlyList<Guid>> RebindFileNamesAsync(int batchSize, CancellationToken cancellationToken)
    {
        var failed = new List<Guid>();
        var after = Guid.Empty;
        while (true)
        {
            var rows = await catalog.BelowBindingAsync(CurrentBinding, after, batchSize, cancellationToken);
            if (rows.Count == 0) return failed;
            foreach (var row in rows)
            {
                after = row.Id;
                byte[] bound;
                try
                {
                    var fileName = await UnprotectFileNameAsync(row, cancellationToken);
                    bound = (await ProtectFileNameAsync(row.Id, row.PatientId, fileName, cancellationToken))!;
                }
                catch (CryptoException)
                {
                    failed.Add(row.Id);
                    continue;
                }
                await catalog.RebindAsync(row, bound, CurrentBinding, cancellationToken);
            }
        }
    }

    /// <summary>Removes the object, then the metadata. A missing object is fine (already gone).</summary>
    public async Task DeleteAsync(DocumentRow row, CancellationToken cancellationToken)
    {
        await s3.DeleteObjectAsync(_options.Bucket, row.ObjectKey, cancellationToken);
        await catalog.DeleteAsync(row.Id, cancellationToken);
    }

    public async Task<byte[]> FileNameIndexAsync(string fileName, CancellationToken cancellationToken) =>
        (await keys.GetIndexKeysAsync(cancellationToken)).FileName.Compute(fileName);

    private Task<byte[]?> ProtectFileNameAsync(Guid id, Guid patientId, string fileName, CancellationToken cancellationToken) =>
        protector.ProtectAsync(Purpose, FieldMode.Randomized, Encoding.UTF8.GetBytes(fileName), FileNameContext(id, patientId, CurrentBinding), cancellationToken);

    /// <summary>
    /// The file name under the row's binding. A version-1 name is bound to the document only, so the row's patient is
    /// first checked against the object's authenticated context (a key-service call; the start-up migration makes this rare).
    /// </summary>
    private async Task<string> UnprotectFileNameAsync(DocumentRow row, CancellationToken cancellationToken)
    {
        if (row.FieldBinding < CurrentBinding)
        {
            using var checkedContext = await OpenAsync(row, wholeFromStorage: false, cancellationToken);
        }
        return Encoding.UTF8.GetString((await protector.UnprotectAsync(row.FileName, FileNameContext(row.Id, row.PatientId, row.FieldBinding), cancellationToken))!);
    }

    private static FieldContext FileNameContext(Guid id, Guid patientId, short binding) =>
        new("documents", "file_name", binding >= CurrentBinding ? $"{id}/patient/{patientId}" : id.ToString());

    private static DocumentInfo ToInfo(DocumentRow row, string fileName) => new(row.Id, row.PatientId, fileName, row.ContentType, row.PlaintextLength,
        row.CiphertextLength, row.FrameLength, row.KeyReferences, row.UploadedBy, DateTime.SpecifyKind(row.UploadedAt, DateTimeKind.Utc));
}
