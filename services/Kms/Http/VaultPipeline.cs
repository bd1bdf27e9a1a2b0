using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http.Features;
using Pii.Kms.Hosting;

namespace Pii.Kms.Http;

/// <summary>
/// Everything Vault does around a handler, for every /v1 request, in Vault's order:
/// sealed check (503) → body limit (413) and JSON parse (400) → resolve the token → audit the request →
/// ACL check (403, with the encrypt existence check deciding create vs update) → handler → audit the response →
/// write. <c>sys/health</c> skips all of it (unauthenticated, answers while sealed, not audited).
/// If the audit device cannot write, the request fails with 500 "internal error" (fail closed).
/// Unexpected exceptions become a 500 with no detail; nothing from the exception reaches the caller.
/// </summary>
public sealed partial class VaultPipeline(RequestDelegate next, KmsRuntime runtime, ILogger<VaultPipeline> logger)
{
    public const long MaxRequestBytes = 32L * 1024 * 1024;
    private const string Prefix = "/v1/";

    public async Task InvokeAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var rawPath = context.Request.Path.Value ?? "";
        if (!rawPath.StartsWith(Prefix, StringComparison.Ordinal))
        {
            await next(context).ConfigureAwait(false);
            return;
        }

        var path = rawPath[Prefix.Length..].TrimEnd('/');
        var operation = OperationOf(context.Request);
        var request = new VaultRequest
        {
            RequestId = Guid.NewGuid().ToString(),
            Path = operation == "list" ? path + "/" : path,
            Operation = operation,
            RemoteAddress = context.Connection.RemoteIpAddress?.ToString(),
        };
        context.Features.Set(request);
        var audited = false;
        VaultResult result;
        try
        {
            if (path == "sys/health")
            {
                await next(context).ConfigureAwait(false);
                await (request.Response ?? VaultResult.Error(404)).WriteAsync(context).ConfigureAwait(false);
                return;
            }

            if (runtime.IsSealed)
            {
                throw new VaultException(503, "Vault is sealed");
            }

            request.Body = await ReadBodyAsync(context).ConfigureAwait(false);
            request.Token = runtime.Tokens.Resolve(TokenOf(context.Request));
            if (runtime.Audit is { } audit)
            {
                audit.LogRequest(request);
                audited = true;
            }

            Authorize(context, request);
            await next(context).ConfigureAwait(false);
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

    private static async Task<JsonObject> ReadBodyAsync(HttpContext context)
    {
        var sizeFeature = context.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (sizeFeature is { IsReadOnly: false })
        {
            sizeFeature.MaxRequestBodySize = null;
        }

        if (context.Request.ContentLength > MaxRequestBytes)
        {
            throw new VaultException(413, "http: request body too large");
        }

        var initial = context.Request.ContentLength is { } declared && declared > 0 ? (int)declared : 4096;
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(initial);
        var length = 0;
        try
        {
            int read;
            while ((read = await context.Request.Body.ReadAsync(buffer.AsMemory(length), context.RequestAborted).ConfigureAwait(false)) > 0)
            {
                length += read;
                if (length > MaxRequestBytes)
                {
                    throw new VaultException(413, "http: request body too large");
                }

                if (length == buffer.Length)
                {
                    var larger = System.Buffers.ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                    buffer.AsSpan(0, length).CopyTo(larger);
                    System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }
            }

            return length == 0 ? [] : ParseObject(buffer.AsSpan(0, length));
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer, clearArray: true);
        }
    }

    private static JsonObject ParseObject(ReadOnlySpan<byte> json)
    {
        try
        {
            var node = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { MaxDepth = 64 });
            return node as JsonObject ?? throw VaultException.BadRequest("failed to parse JSON input: the request body must be a JSON object");
        }
        catch (JsonException e)
        {
            throw VaultException.BadRequest($"failed to parse JSON input: invalid JSON at byte {e.BytePositionInLine ?? 0}");
        }
        catch (ArgumentException)
        {
            throw VaultException.BadRequest("failed to parse JSON input: duplicate field");
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Unexpected {ExceptionType} while handling {Path}")]
    private static partial void LogUnexpected(ILogger logger, string exceptionType, string path);

    [LoggerMessage(Level = LogLevel.Error, Message = "Audit device write failed ({ExceptionType}); request refused")]
    private static partial void LogAuditFailed(ILogger logger, string exceptionType);
}
