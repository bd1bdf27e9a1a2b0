using System.Buffers;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Unicode;
using Microsoft.AspNetCore.Http.Features;
using Pii.Kms.Hosting;

namespace Pii.Kms.Http;

/// <summary>
/// Everything Vault does around a handler, for every request that is not one of ServiceDefaults' own endpoints, in this
/// order: sealed check (503) → resolve the token → ACL check on path and operation (403; the encrypt existence check
/// needs only the path) → body limit (413) and JSON parse (400) → audit the request → handler → audit the response →
/// write. No byte of the body is read before the caller is authorized, and a refused request is audited without its
/// body. <c>sys/health</c> skips all of it (unauthenticated, answers while sealed, not audited).
/// Vault's paths are case-sensitive and ASP.NET routing is not, so a handler is called only when its route pattern
/// names the request path exactly (<see cref="VaultEndpoints.MatchesExactly"/>); any other spelling (<c>/V1/</c>,
/// <c>/v1/Transit</c>, double slashes, an encoded slash) is a 404 after the same token, ACL and audit steps.
/// Bodies above <see cref="LargeBodyBytes"/> are read by at most <see cref="KmsSettings.MaxConcurrentLargeBodies"/>
/// requests at a time, into unpooled buffers that are cleared and then left to the GC.
/// If the audit device cannot write, the request fails with 500 "internal error" (fail closed).
/// Unexpected exceptions become a 500 with no detail; nothing from the exception reaches the caller.
/// </summary>
public sealed partial class VaultPipeline(RequestDelegate next, KmsRuntime runtime, ILogger<VaultPipeline> logger) : IDisposable
{
    public const long MaxRequestBytes = 32L * 1024 * 1024;
    public const int LargeBodyBytes = 1024 * 1024;
    private const string Prefix = "/v1/";
    private static readonly JsonDocumentOptions ParseOptions = new() { MaxDepth = 64, AllowDuplicateProperties = false };
    private readonly SemaphoreSlim _largeBodies = new(runtime.Settings.MaxConcurrentLargeBodies, runtime.Settings.MaxConcurrentLargeBodies);

    public async Task InvokeAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var endpoint = context.GetEndpoint();
        if (endpoint is RouteEndpoint && endpoint.Metadata.GetMetadata<VaultEndpointMetadata>() is null)
        {
            // ServiceDefaults' health checks (Development only): not part of the Vault API.
            await next(context).ConfigureAwait(false);
            return;
        }

        var rawPath = context.Request.Path.Value ?? "";
        var canonical = rawPath.StartsWith(Prefix, StringComparison.Ordinal);
        var path = (canonical ? rawPath[Prefix.Length..] : rawPath.TrimStart('/')).TrimEnd('/');
        var operation = OperationOf(context.Request);
        var request = new VaultRequest
        {
            RequestId = Guid.NewGuid().ToString(),
            Path = operation == "list" ? path + "/" : path,
            Operation = operation,
            RemoteAddress = context.Connection.RemoteIpAddress?.ToString(),
        };
        context.Features.Set(request);
        var handler = canonical && endpoint is RouteEndpoint route && endpoint.Metadata.GetMetadata<VaultEndpointMetadata>() is not null
            && VaultEndpoints.MatchesExactly(route.RoutePattern, SegmentsOf(rawPath));
        if (handler && path == "sys/health")
        {
            request.Admitted = true;
            await next(context).ConfigureAwait(false);
            await (request.Response ?? VaultResult.Error(404)).WriteAsync(context).ConfigureAwait(false);
            return;
        }

        var largeBody = false;
        try
        {
            largeBody = await HandleAsync(context, request, handler, path).ConfigureAwait(false);
        }
        finally
        {
            if (largeBody)
            {
                _largeBodies.Release();

                // A large body leaves about ten times its size in large-object garbage (body, parsed copy, UTF-16
                // strings, decoded plaintext, ciphertext, answer). The GC's large-object budget let that pile up request
                // after request (8 x 31 MB with one slot: 1.8 GB peak without this collection, 0.8 GB with it); a
                // request that size costs far more than this collection.
                GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true);
            }
        }
    }

    /// <summary>Runs one request through the pipeline; true when it held a large-body slot (kept until the answer is written).</summary>
    private async Task<bool> HandleAsync(HttpContext context, VaultRequest request, bool handler, string path)
    {
        var audited = false;
        var largeBody = false;
        var bodyUnread = false;
        VaultResult result;
        try
        {
            if (runtime.IsSealed)
            {
                throw new VaultException(503, "Vault is sealed");
            }

            request.Token = runtime.Tokens.Resolve(TokenOf(context.Request));
            try
            {
                Authorize(context, request);
            }
            catch (VaultException)
            {
                // Refused before any body byte was read: audited without it.
                bodyUnread = true;
                audited = LogRequest(request);
                throw;
            }

            try
            {
                largeBody = await ReadBodyAsync(context, request).ConfigureAwait(false);
            }
            catch (VaultException)
            {
                // Too large or not a valid JSON object: audited without the body.
                request.Body = [];
                audited = LogRequest(request);
                throw;
            }

            audited = LogRequest(request);
            if (handler)
            {
                request.Admitted = true;
                await next(context).ConfigureAwait(false);
            }

            result = request.Response ?? VaultResult.Error(404, $"no handler for route \"{path}\". route entry not found.");
        }
        catch (VaultException e)
        {
            result = VaultResult.Error(e.StatusCode, e.Errors ?? [e.Message]);
        }
        catch (BatchParseException e)
        {
            // Vault answers undecodable batch items with a bare error (500). Bad input is the caller's fault, and our
            // rule is a 4xx for it; the body keeps Vault's message so clients matching on it still work.
            result = VaultResult.Error(400, "failed to parse batch input: " + e.Message);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogUnexpected(logger, e.GetType().Name, request.Path);
            result = VaultResult.Error(500, "internal error");
        }

        if (audited)
        {
            try
            {
                runtime.Audit!.LogResponse(request, result);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ObjectDisposedException)
            {
                LogAuditFailed(logger, e.GetType().Name);
                result = VaultResult.Error(500, "internal error");
            }
        }

        await result.WriteAsync(context).ConfigureAwait(false);
        if (bodyUnread)
        {
            await DiscardBodyAsync(context).ConfigureAwait(false);
        }

        return largeBody;
    }

    /// <summary>
    /// After a refusal the unread body is read and dropped through one small buffer, so the client, which sends its whole
    /// body before reading the answer, gets the refusal instead of a reset connection. Nothing accumulates: memory stays
    /// the same whatever the body's size; past Vault's limit the connection is simply dropped.
    /// </summary>
    private static async Task DiscardBodyAsync(HttpContext context)
    {
        if (context.Request.ContentLength is 0 or > MaxRequestBytes || (context.Request.ContentLength is null && context.Request.Headers.TransferEncoding.Count == 0))
        {
            return;
        }

        await context.Response.CompleteAsync().ConfigureAwait(false);
        var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            long total = 0;
            int read;
            while (total <= MaxRequestBytes && (read = await context.Request.Body.ReadAsync(buffer, context.RequestAborted).ConfigureAwait(false)) > 0)
            {
                total += read;
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException)
        {
            // The client went away; there is no one left to answer.
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer, clearArray: true);
        }
    }

    public void Dispose() => _largeBodies.Dispose();

    /// <summary>True when a request line was written; a failed write is an audit failure, which fails the request closed.</summary>
    private bool LogRequest(VaultRequest request)
    {
        if (runtime.Audit is not { } audit)
        {
            return false;
        }

        audit.LogRequest(request);
        return true;
    }

    /// <summary>The path's segments with one trailing slash dropped (Vault's list form); "//" leaves an empty segment.</summary>
    private static string[] SegmentsOf(string rawPath)
    {
        var trimmed = rawPath[1..];
        return (trimmed.EndsWith('/') ? trimmed[..^1] : trimmed).Split('/');
    }

    private void Authorize(HttpContext context, VaultRequest request)
    {
        if (request.Token is null)
        {
            throw VaultException.PermissionDenied(invalidToken: !string.IsNullOrEmpty(TokenOf(context.Request)));
        }

        if (request.Operation == "update" && IsEncryptPath(request.Path, out var keyName) && !runtime.Keys.Exists(keyName))
        {
            // Vault's existence check on transit/encrypt: a missing key makes this a "create" (upsert).
            request.Operation = "create";
        }

        if (!runtime.Policies.Allows(request.Token, request.Path, request.Operation))
        {
            throw VaultException.PermissionDenied(invalidToken: false);
        }
    }

    private static bool IsEncryptPath(string path, out string keyName)
    {
        const string encrypt = "transit/encrypt/";
        keyName = path.StartsWith(encrypt, StringComparison.Ordinal) ? path[encrypt.Length..] : "";
        return keyName.Length > 0 && !keyName.Contains('/', StringComparison.Ordinal);
    }

    private static string OperationOf(HttpRequest request)
    {
        var method = request.Method;
        if (HttpMethods.IsGet(method) || HttpMethods.IsHead(method))
        {
            return string.Equals(request.Query["list"], "true", StringComparison.OrdinalIgnoreCase) ? "list" : "read";
        }

        if (string.Equals(method, "LIST", StringComparison.OrdinalIgnoreCase))
        {
            return "list";
        }

        return HttpMethods.IsDelete(method) ? "delete" : "update";
    }

    /// <summary>The presented token: <c>X-Vault-Token</c>, else <c>Authorization: Bearer</c>.</summary>
    internal static string? TokenOf(HttpRequest request)
    {
        var header = request.Headers["X-Vault-Token"].ToString();
        if (header.Length > 0)
        {
            return header;
        }

        var authorization = request.Headers.Authorization.ToString();
        return authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? authorization["Bearer ".Length..].Trim() : null;
    }

    /// <summary>
    /// Reads and parses the body into <paramref name="request"/>. A large or chunked body first waits for a slot, so only
    /// a bounded number of them are in memory at once; true means the slot is held, to be released once the answer is
    /// written (the handler's copies of a large body are as big as the body).
    /// </summary>
    private async Task<bool> ReadBodyAsync(HttpContext context, VaultRequest request)
    {
        var sizeFeature = context.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (sizeFeature is { IsReadOnly: false })
        {
            sizeFeature.MaxRequestBodySize = null;
        }

        var declared = context.Request.ContentLength;
        if (declared > MaxRequestBytes)
        {
            throw new VaultException(413, "http: request body too large");
        }

        if (declared == 0)
        {
            return false;
        }

        if (declared is { } small && small <= LargeBodyBytes)
        {
            var buffer = ArrayPool<byte>.Shared.Rent((int)small);
            try
            {
                request.Body = ParseObject(buffer.AsSpan(0, await ReadAllAsync(context, buffer.AsMemory(0, (int)small)).ConfigureAwait(false)));
                return false;
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer, clearArray: true);
            }
        }

        await _largeBodies.WaitAsync(context.RequestAborted).ConfigureAwait(false);
        byte[] large = [];
        try
        {
            large = GC.AllocateUninitializedArray<byte>((int)(declared ?? LargeBodyBytes));
            var length = 0;
            while (true)
            {
                length += await ReadAllAsync(context, large.AsMemory(length)).ConfigureAwait(false);
                if (length < large.Length || declared is not null)
                {
                    break;
                }

                if (length > MaxRequestBytes)
                {
                    throw new VaultException(413, "http: request body too large");
                }

                var grown = GC.AllocateUninitializedArray<byte>((int)Math.Min(large.Length * 2L, MaxRequestBytes + 1));
                large.AsSpan().CopyTo(grown);
                CryptographicOperations.ZeroMemory(large);
                large = grown;
            }

            request.Body = ParseObject(large.AsSpan(0, length));
            return true;
        }
        catch
        {
            _largeBodies.Release();
            throw;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(large);
        }
    }

    /// <summary>Reads until <paramref name="buffer"/> is full or the body ends (Kestrel never gives more than a declared length).</summary>
    private static async Task<int> ReadAllAsync(HttpContext context, Memory<byte> buffer)
    {
        var length = 0;
        try
        {
            int read;
            while (length < buffer.Length && (read = await context.Request.Body.ReadAsync(buffer[length..], context.RequestAborted).ConfigureAwait(false)) > 0)
            {
                length += read;
            }
        }
        catch (BadHttpRequestException)
        {
            throw VaultException.BadRequest("failed to read the request body");
        }

        return length;
    }

    /// <summary>
    /// A JSON object, fully checked here so no handler or audit step meets a malformed one: invalid UTF-8, an escaped
    /// lone surrogate, a duplicate key, bad JSON or a non-object are all 400 (Go's decoder would silently replace or
    /// keep the last; a 400 is the safer answer and no client sends these).
    /// </summary>
    private static JsonObject ParseObject(ReadOnlySpan<byte> json)
    {
        if (json.IsEmpty)
        {
            return [];
        }

        if (!Utf8.IsValid(json))
        {
            throw VaultException.BadRequest("failed to parse JSON input: invalid UTF-8");
        }

        try
        {
            CheckEscapedStrings(json);
            return JsonNode.Parse(json, documentOptions: ParseOptions) as JsonObject
                ?? throw VaultException.BadRequest("failed to parse JSON input: the request body must be a JSON object");
        }
        catch (JsonException e)
        {
            throw VaultException.BadRequest($"failed to parse JSON input: invalid JSON at byte {e.BytePositionInLine ?? 0}");
        }
        catch (InvalidOperationException)
        {
            throw VaultException.BadRequest("failed to parse JSON input: invalid string escape");
        }
    }

    /// <summary>
    /// Unescapes every escaped string once, so an escape that is not valid UTF-16 (a lone surrogate) fails here, as a
    /// 400, and not later in a handler. Unescaped strings are already valid UTF-8 and cost nothing.
    /// </summary>
    private static void CheckEscapedStrings(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = ParseOptions.MaxDepth });
        while (reader.Read())
        {
            if (reader.TokenType is JsonTokenType.String or JsonTokenType.PropertyName && reader.ValueIsEscaped)
            {
                _ = reader.GetString();
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Unexpected {ExceptionType} while handling {Path}")]
    private static partial void LogUnexpected(ILogger logger, string exceptionType, string path);

    [LoggerMessage(Level = LogLevel.Error, Message = "Audit device write failed ({ExceptionType}); request refused")]
    private static partial void LogAuditFailed(ILogger logger, string exceptionType);
}
