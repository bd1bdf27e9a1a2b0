using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using Pii.DocumentService.Audit;
using Pii.DocumentService.Auth;
using Pii.DocumentService.Keys;
using Pii.DocumentService.Patients;

namespace Pii.DocumentService.Documents;

/// <summary>Bundled handler dependencies.</summary>
internal sealed class DocumentServices(DocumentStore store, DocumentCatalog catalog, PatientRecords patients, DocumentKeys keys, AccessLog log,
    IOptions<DocumentOptions> options, ReadLimiter readLimiter)
{
    public ReadLimiter ReadLimiter { get; } = readLimiter;
    public DocumentStore Store { get; } = store;
    public DocumentCatalog Catalog { get; } = catalog;
    public PatientRecords Patients { get; } = patients;
    public DocumentKeys Keys { get; } = keys;
    public AccessLog Log { get; } = log;
    public IOptions<DocumentOptions> Options { get; } = options;
}

/// <summary>
/// Upload (raw body with <c>X-File-Name</c> percent-encoded UTF-8 + Content-Type, or multipart/form-data with one file
/// part), download with single-range support, HEAD, list/search, delete. Every read is written to the access log.
/// </summary>
internal static class DocumentsApi
{
    public const string FileNameHeader = "X-File-Name";

    /// <summary>On a list or search: how many matching records were left out because they failed their integrity check.</summary>
    public const string IntegrityFailuresHeader = "X-Integrity-Failures";
    public const string MalformedMultipart = "The multipart/form-data body is malformed (a header line, boundary or part is not valid).";
    private const int MaxFileNameLength = 255;
    private const int MaxContentTypeLength = 127;

    public static RouteGroupBuilder MapDocumentsApi(this IEndpointRouteBuilder routes)
    {
        var api = routes.MapGroup("api").WithTags("Documents").AddEndpointFilter<DependencyFailureFilter>();
        api.MapPost("patients/{patientId:guid}/documents", UploadAsync).RequireAuthorization(Roles.Clinician)
            .WithName("UploadDocument").WithSummary("Encrypts the body into object storage as a new document of the patient.")
            .DisableAntiforgery();
        api.MapGet("patients/{patientId:guid}/documents", ListForPatientAsync).RequireAuthorization(Roles.Clinician)
            .WithName("ListPatientDocuments").WithSummary("The patient's documents, newest first.");
        api.MapGet("documents", SearchAsync).RequireAuthorization(Roles.Clinician)
            .WithName("SearchDocuments").WithSummary("Documents by exact file name (case-insensitive) and/or patient.");
        api.MapGet("documents/{id:guid}", DownloadAsync).RequireAuthorization(Roles.Clinician)
            .WithName("DownloadDocument").WithSummary("Streams the plaintext; honours a single byte range.");
        api.MapMethods("documents/{id:guid}", [HttpMethods.Head], HeadAsync).RequireAuthorization(Roles.Clinician)
            .WithName("HeadDocument").WithSummary("The download's headers without the body.");
        api.MapGet("documents/{id:guid}/metadata", MetadataAsync).RequireAuthorization(Roles.Clinician)
            .WithName("DocumentMetadata").WithSummary("Sizes, type, key references, uploader.");
        api.MapDelete("documents/{id:guid}", DeleteAsync).RequireAuthorization(Roles.Clinician)
            .WithName("DeleteDocument").WithSummary("Removes the object and its metadata.");
        return api;
    }

    public static async Task<Results<Created<DocumentInfo>, ProblemHttpResult, ValidationProblem>> UploadAsync(
        Guid patientId, HttpContext http, [AsParameters] DocumentServices s, CancellationToken cancellationToken)
    {
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit) limit.MaxRequestBodySize = s.Options.Value.MaxUploadBytes + 1024 * 1024;
        if (!await s.Patients.ExistsAsync(patientId, cancellationToken)) return PatientNotFound();

        var request = http.Request;
        string? fileName;
        string? contentType;
        Stream body;
        if (MediaTypeHeaderValue.TryParse(request.ContentType, out var mediaType) && mediaType.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase))
        {
            var boundary = HeaderUtilities.RemoveQuotes(mediaType.Boundary).Value;
            if (string.IsNullOrEmpty(boundary) || boundary.Length > 200) return Invalid("body", "multipart/form-data needs a boundary of at most 200 characters.");
            var reader = new MultipartReader(boundary, request.Body) { HeadersLengthLimit = 16 * 1024 };
            MultipartSection? section;
            ContentDispositionHeaderValue? disposition = null;
            try
            {
                while ((section = await reader.ReadNextSectionAsync(cancellationToken)) is not null)
                {
                    if (ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out disposition) && disposition.IsFileDisposition()) break;
                }
            }
            catch (Exception e) when (e is InvalidDataException || (e is IOException && !http.RequestAborted.IsCancellationRequested))
            {
                // A bad header line, or a body that ends before its closing boundary although the client sent all of it.
                return Invalid("body", MalformedMultipart);
            }
            if (section is null || disposition is null) return Invalid("file", "The form has no file part.");
            fileName = HeaderUtilities.RemoveQuotes(disposition.FileNameStar.HasValue ? disposition.FileNameStar : disposition.FileName).Value;
            contentType = section.ContentType ?? "application/octet-stream";
            body = section.Body;
        }
        else
        {
            var raw = request.Headers[FileNameHeader];
            if (raw.Count != 1 || string.IsNullOrEmpty(raw[0]) || raw[0]!.Length > MaxFileNameLength * 9) return Invalid("fileName", $"Send the file name in {FileNameHeader} (percent-encoded UTF-8, at most {MaxFileNameLength} characters).");
            try
            {
                fileName = Uri.UnescapeDataString(raw[0]!);
            }
            catch (UriFormatException)
            {
                return Invalid("fileName", $"{FileNameHeader} is not valid percent-encoding.");
            }
            contentType = request.ContentType ?? "application/octet-stream";
            body = request.Body;
        }
        if (ValidateFileName(fileName) is { } nameError) return Invalid("fileName", nameError);
        if (contentType.Length > MaxContentTypeLength || !MediaTypeHeaderValue.TryParse(contentType, out var parsedType) || contentType.Any(char.IsControl))
        {
            return Invalid("contentType", $"Content type: a media type of at most {MaxContentTypeLength} characters.");
        }
        // Only the media type is stored (in clear, for the download's Content-Type): parameters such as name="….pdf" can carry PII.
        contentType = parsedType.MediaType.Value!.ToLowerInvariant();

        var (outcome, document) = await s.Store.UploadAsync(patientId, fileName!, contentType, body, http.User, cancellationToken);
        switch (outcome)
        {
            case UploadOutcome.Empty:
                return Invalid("body", "The document is empty.");
            case UploadOutcome.TooLarge:
                return TypedResults.Problem(title: $"Documents are limited to {s.Options.Value.MaxUploadBytes} bytes.", statusCode: StatusCodes.Status413PayloadTooLarge);
        }
        await s.Log.WriteAsync(http.User, "document.upload", patientId, document!.Id, "stored", cancellationToken: CancellationToken.None);
        return TypedResults.Created($"/api/documents/{document.Id}", document);
    }

    public static async Task<Results<Ok<IReadOnlyList<DocumentInfo>>, ProblemHttpResult>> ListForPatientAsync(
        Guid patientId, HttpContext http, [AsParameters] DocumentServices s, CancellationToken cancellationToken)
    {
        if (!await s.Patients.ExistsAsync(patientId, cancellationToken)) return PatientNotFound();
        var rows = await s.Catalog.ListAsync(patientId, null, 500, cancellationToken);
        await s.Log.WriteAsync(http.User, "document.list", patientId, null, "ok", cancellationToken: cancellationToken);
        return TypedResults.Ok(await DescribeAllAsync(http, "document.list", s, rows, cancellationToken));
    }

    public static async Task<Results<Ok<IReadOnlyList<DocumentInfo>>, ValidationProblem>> SearchAsync(
        string? fileName, Guid? patientId, HttpContext http, [AsParameters] DocumentServices s, CancellationToken cancellationToken)
    {
        if (fileName is null && patientId is null) return Invalid("query", "Give fileName and/or patientId.");
        if (fileName is not null && ValidateFileName(fileName) is { } error) return Invalid("fileName", error);
        var index = fileName is null ? null : await s.Store.FileNameIndexAsync(fileName, cancellationToken);
        var rows = await s.Catalog.ListAsync(patientId, index, 500, cancellationToken);
        await s.Log.WriteAsync(http.User, "document.search", patientId, null, $"{rows.Count} results", cancellationToken: cancellationToken);
        return TypedResults.Ok(await DescribeAllAsync(http, "document.search", s, rows, cancellationToken));
    }

    public static async Task<Results<Ok<DocumentInfo>, ProblemHttpResult>> MetadataAsync(
        Guid id, [AsParameters] DocumentServices s, ClaimsPrincipal user, CancellationToken cancellationToken)
    {
        if (await s.Catalog.GetAsync(id, cancellationToken) is not { } row) return DocumentNotFound();
        await s.Log.WriteAsync(user, "document.metadata", row.PatientId, id, "ok", cancellationToken: cancellationToken);
        return TypedResults.Ok(await s.Store.DescribeAsync(row, cancellationToken));
    }

    public static async Task<Results<EmptyHttpResult, ProblemHttpResult>> HeadAsync(
        Guid id, HttpContext http, [AsParameters] DocumentServices s, CancellationToken cancellationToken)
    {
        if (await s.Catalog.GetAsync(id, cancellationToken) is not { } row) return DocumentNotFound();
        var info = await s.Store.DescribeAsync(row, cancellationToken);
        var range = ByteRangeRequest.Parse(http.Request.Headers.Range, info.Size, out var unsatisfiable);
        if (unsatisfiable) return RangeNotSatisfiable(http, info.Size);
        WriteHeaders(http.Response, info, range);
        await s.Log.WriteAsync(http.User, "document.head", row.PatientId, id, "ok", cancellationToken: cancellationToken);
        return TypedResults.Empty;
    }

    public static async Task<Results<EmptyHttpResult, ProblemHttpResult>> DownloadAsync(
        Guid id, HttpContext http, [AsParameters] DocumentServices s, CancellationToken cancellationToken)
    {
        await s.ReadLimiter.Gate.WaitAsync(cancellationToken);
        try
        {
            return await DownloadNowAsync(id, http, s, cancellationToken);
        }
        finally
        {
            s.ReadLimiter.Gate.Release();
        }
    }

    private static async Task<Results<EmptyHttpResult, ProblemHttpResult>> DownloadNowAsync(
        Guid id, HttpContext http, DocumentServices s, CancellationToken cancellationToken)
    {
        if (await s.Catalog.GetAsync(id, cancellationToken) is not { } row) return DocumentNotFound();
        var info = await s.Store.DescribeAsync(row, cancellationToken);
        var range = ByteRangeRequest.Parse(http.Request.Headers.Range, info.Size, out var unsatisfiable);
        if (unsatisfiable)
        {
            await s.Log.WriteAsync(http.User, "document.read", row.PatientId, id, "range not satisfiable", cancellationToken: cancellationToken);
            return RangeNotSatisfiable(http, info.Size);
        }
        await s.Log.WriteAsync(http.User, "document.read", row.PatientId, id, range is { } r ? $"bytes {r.Start}-{r.End}" : "whole", cancellationToken: cancellationToken);
        using var decryptor = await s.Store.OpenAsync(row, wholeFromStorage: range is null, cancellationToken);
        WriteHeaders(http.Response, info, range);
        if (range is { } partial)
        {
            await decryptor.ReadAsync(partial.Start, partial.End + 1, http.Response.Body, cancellationToken);
            return TypedResults.Empty;
        }
        // The whole document: also recompute the keyed hash recorded at upload; a mismatch (a different but valid
        // message under the same keys) aborts the connection before the last bytes, so the client sees a failure.
        var index = await s.Keys.GetIndexKeysAsync(cancellationToken);
        using var hmac = index.CreateContentHmac();
        var hashing = new HashingWriteStream(http.Response.Body, hmac, holdBack: 1);
        await decryptor.ReadAsync(0, info.Size, hashing, cancellationToken);
        if (!CryptographicOperations.FixedTimeEquals(hmac.GetHashAndReset(), row.ContentHmac))
        {
            throw new Pii.Crypto.TamperedException("The document's keyed hash does not match its metadata.");
        }
        await hashing.ReleaseAsync(cancellationToken);
        return TypedResults.Empty;
    }

    public static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(
        Guid id, [AsParameters] DocumentServices s, ClaimsPrincipal user, CancellationToken cancellationToken)
    {
        if (await s.Catalog.GetAsync(id, cancellationToken) is not { } row) return DocumentNotFound();
        await s.Store.DeleteAsync(row, cancellationToken);
        await s.Log.WriteAsync(user, "document.delete", row.PatientId, id, "deleted", cancellationToken: CancellationToken.None);
        return TypedResults.NoContent();
    }

    /// <summary>
    /// Null when valid: 1-255 characters, no control characters, no path separators, no invisible formatting (a
    /// right-to-left override makes "cod.exe" display as "exe.doc"), not only whitespace.
    /// </summary>
    public static string? ValidateFileName(string? fileName) =>
        string.IsNullOrWhiteSpace(fileName) || fileName.Length > MaxFileNameLength || fileName.Any(c => char.IsControl(c) || c is '/' or '\\')
            || PatientRecords.HasInvisibleFormatting(fileName)
            ? $"File name: 1-{MaxFileNameLength} characters, no control characters, path separators or invisible formatting (direction overrides, zero-width characters)."
            : null;

    private static void WriteHeaders(HttpResponse response, DocumentInfo info, ByteRangeRequest? range)
    {
        response.ContentType = info.ContentType;
        response.Headers.AcceptRanges = "bytes";
        response.Headers.CacheControl = "no-store";
        response.Headers.XContentTypeOptions = "nosniff";
        var disposition = new ContentDispositionHeaderValue("attachment") { FileNameStar = info.FileName };
        disposition.FileName = AsciiFallback(info.FileName);
        response.Headers.ContentDisposition = disposition.ToString();
        if (range is { } r)
        {
            response.StatusCode = StatusCodes.Status206PartialContent;
            response.Headers.ContentRange = new ContentRangeHeaderValue(r.Start, r.End, info.Size).ToString();
            response.ContentLength = r.Length;
        }
        else
        {
            response.ContentLength = info.Size;
        }
    }

    private static string AsciiFallback(string fileName)
    {
        var builder = new StringBuilder(fileName.Length);
        foreach (var c in fileName) builder.Append(c is >= ' ' and < (char)127 and not '"' and not '\\' ? c : '_');
        return builder.ToString();
    }

    private static ProblemHttpResult RangeNotSatisfiable(HttpContext http, long size)
    {
        http.Response.Headers.ContentRange = $"bytes */{size}";
        return TypedResults.Problem(title: "The range is outside the document.", statusCode: StatusCodes.Status416RangeNotSatisfiable);
    }

    /// <summary>
    /// Describes each row; one that fails its integrity check (tampered, or moved to another patient) is left out, written
    /// to the access log as an integrity failure and counted in <see cref="IntegrityFailuresHeader"/>, so one bad row
    /// neither fails the whole list nor shows up as another patient's document.
    /// </summary>
    private static async Task<IReadOnlyList<DocumentInfo>> DescribeAllAsync(HttpContext http, string action, DocumentServices s, IReadOnlyList<DocumentRow> rows,
        CancellationToken cancellationToken)
    {
        var list = new List<DocumentInfo>(rows.Count);
        var failures = 0;
        foreach (var row in rows)
        {
            try
            {
                list.Add(await s.Store.DescribeAsync(row, cancellationToken));
            }
            catch (Pii.Crypto.CryptoException)
            {
                failures++;
                await s.Log.WriteAsync(http.User, action, row.PatientId, row.Id, "integrity failure", cancellationToken: cancellationToken);
            }
        }
        http.Response.Headers[IntegrityFailuresHeader] = failures.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return list;
    }

    internal static ProblemHttpResult PatientNotFound() => TypedResults.Problem(title: "No such patient.", statusCode: StatusCodes.Status404NotFound);

    private static ProblemHttpResult DocumentNotFound() => TypedResults.Problem(title: "No such document.", statusCode: StatusCodes.Status404NotFound);

    private static ValidationProblem Invalid(string field, string message) =>
        TypedResults.ValidationProblem(new Dictionary<string, string[]> { [field] = [message] });
}

/// <summary>
/// Passes bytes through to <c>inner</c> while hashing them, holding back the last <c>holdBack</c> bytes until
/// <see cref="ReleaseAsync"/>: if the hash check fails, the client never receives a complete body.
/// </summary>
internal sealed class HashingWriteStream(Stream inner, IncrementalHash hash, int holdBack) : Stream
{
    private readonly byte[] _held = new byte[holdBack];
    private int _heldCount;

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.IsEmpty) return;
        hash.AppendData(buffer.Span);
        if (_heldCount > 0) await inner.WriteAsync(_held.AsMemory(0, _heldCount), cancellationToken);
        var keep = Math.Min(holdBack, buffer.Length);
        await inner.WriteAsync(buffer[..^keep], cancellationToken);
        buffer[^keep..].CopyTo(_held);
        _heldCount = keep;
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public ValueTask ReleaseAsync(CancellationToken cancellationToken) => inner.WriteAsync(_held.AsMemory(0, _heldCount), cancellationToken);

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override void Flush() => inner.Flush();
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}

/// <summary>The bound on concurrent downloads (<see cref="DocumentOptions.MaxConcurrentReads"/>).</summary>
internal sealed class ReadLimiter(IOptions<DocumentOptions> options) : IDisposable
{
    public SemaphoreSlim Gate { get; } = new(options.Value.MaxConcurrentReads, options.Value.MaxConcurrentReads);

    public void Dispose() => Gate.Dispose();
}
