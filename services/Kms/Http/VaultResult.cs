using System.Text.Json.Nodes;

namespace Pii.Kms.Http;

/// <summary>
/// A Vault response: status plus JSON body (null = empty body, e.g. 204). Handlers return it; the Vault
/// pipeline audits it and then writes it, so an audit failure can still turn it into a 500 (fail closed).
/// </summary>
public sealed class VaultResult(int statusCode, JsonObject? body) : IResult
{
    /// <summary>Vault (Go) does not escape '+' or '/' in base64; the relaxed encoder keeps responses byte-compatible.</summary>
    public static readonly System.Text.Json.JsonWriterOptions JsonOutput = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public int StatusCode { get; } = statusCode;

    public JsonObject? Body { get; } = body;

    /// <summary>Success envelope with everything under <c>data</c>.</summary>
    public static VaultResult Data(VaultRequest request, JsonObject? data, int statusCode = 200, JsonObject? auth = null, string mountType = "transit")
    {
        ArgumentNullException.ThrowIfNull(request);
        return new(statusCode, new JsonObject
        {
            ["request_id"] = request.RequestId,
            ["lease_id"] = "",
            ["renewable"] = false,
            ["lease_duration"] = 0,
            ["data"] = data,
            ["wrap_info"] = null,
            ["warnings"] = request.Warnings.Count == 0 ? null : new JsonArray([.. request.Warnings.Select(w => (JsonNode)w)]),
            ["auth"] = auth,
            ["mount_type"] = mountType,
        });
    }

    public static VaultResult NoContent() => new(204, null);

    public static VaultResult Error(int statusCode, params IEnumerable<string> errors) =>
        new(statusCode, new JsonObject { ["errors"] = new JsonArray([.. errors.Select(e => (JsonNode)e)]) });

    public static VaultResult Raw(int statusCode, JsonObject body) => new(statusCode, body);

    /// <summary>
    /// A handler's result is only recorded; the pipeline writes it after auditing. Outside an admitted request there is
    /// nothing to record it in, and writing it unaudited would be a bypass, so that is refused.
    /// </summary>
    public Task ExecuteAsync(HttpContext httpContext)
    {
        httpContext.Vault().Response = this;
        return Task.CompletedTask;
    }

    public async Task WriteAsync(HttpContext httpContext)
    {
        ArgumentNullException.ThrowIfNull(httpContext);
        httpContext.Response.StatusCode = StatusCode;
        if (Body is null)
        {
            return;
        }

        httpContext.Response.ContentType = "application/json";
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(512);
        using (var writer = new System.Text.Json.Utf8JsonWriter(buffer, JsonOutput))
        {
            Body.WriteTo(writer);
        }

        // Vault ends its JSON bodies with a newline; one write keeps it a single response chunk.
        System.Buffers.BuffersExtensions.Write(buffer, "\n"u8);
        httpContext.Response.ContentLength = buffer.WrittenCount;
        await httpContext.Response.Body.WriteAsync(buffer.WrittenMemory).ConfigureAwait(false);
    }
}
