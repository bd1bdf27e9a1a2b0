using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Pii.Crypto.Audit;
using Pii.Kms.Http;

namespace Pii.Kms.Audit;

/// <summary>
/// Vault-style file audit device on the chained JSON-lines format of <see cref="AuditChain"/>.
/// One "request" line before the handler runs and one "response" line before the response is sent.
/// Every string inside request data, response data/auth and token fields is replaced by
/// <c>hmac-sha256:&lt;hex&gt;</c> under this log's own HMAC key (kept sealed in storage), as Vault's
/// <c>HashStructure</c> does, so an operator holding a value can check whether it appears without the log
/// revealing it. Error and warning strings, paths, operations and numbers stay readable.
/// A failed write throws; the pipeline then answers 500 (fail closed).
/// </summary>
public sealed class AuditDevice(AuditChainWriter writer, byte[] hmacKey, TimeProvider time) : IDisposable
{
    private const string HashPrefix = "hmac-sha256:";

    // One reusable HMAC context per thread: creating an HMAC per value dominates the cost of large batches.
    private readonly ThreadLocal<IncrementalHash> _hmac = new(() => IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, hmacKey), trackAllValues: true);
    private readonly ThreadLocal<Encoder> _encoder = new(() => Encoding.UTF8.GetEncoder());

    public void LogRequest(VaultRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        Append(w =>
        {
            w.WriteString("time", time.GetUtcNow().ToString("O"));
            w.WriteString("type", "request");
            WriteAuth(w, request);
            w.WriteStartObject("request");
            WriteRequestHeader(w, request);
            w.WritePropertyName("data");
            WriteHashed(w, request.Body);
            w.WriteEndObject();
        });
    }

    public void LogResponse(VaultRequest request, VaultResult result)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(result);
        Append(w =>
        {
            w.WriteString("time", time.GetUtcNow().ToString("O"));
            w.WriteString("type", "response");
            WriteAuth(w, request);
            w.WriteStartObject("request");
            WriteRequestHeader(w, request);
            w.WriteEndObject();
            w.WriteStartObject("response");
            w.WriteNumber("status_code", result.StatusCode);
            if (result.Body is { } body)
            {
                foreach (var (name, node) in body)
                {
                    w.WritePropertyName(name);
                    if (name is "data" or "auth")
                    {
                        WriteHashed(w, node);
                    }
                    else if (node is null)
                    {
                        w.WriteNullValue();
                    }
                    else
                    {
                        node.WriteTo(w);
                    }
                }
            }

            w.WriteEndObject();
        });
    }

    /// <summary>
    /// <paramref name="value"/> as this log records it (also Vault's <c>sys/audit-hash</c>): an auditor holding a value
    /// can search the log for it without the log revealing any value.
    /// </summary>
    public string Hash(string value)
    {
        Span<char> hashed = stackalloc char[HashPrefix.Length + 64];
        FormatHash(value, hashed);
        return hashed.ToString();
    }

    public void Dispose()
    {
        writer.Dispose();
        foreach (var hmac in _hmac.Values)
        {
            hmac.Dispose();
        }

        _hmac.Dispose();
        _encoder.Dispose();
        CryptographicOperations.ZeroMemory(hmacKey);
    }

    private void FormatHash(string value, Span<char> destination)
    {
        var hmac = _hmac.Value!;

        // Encoded in stack-sized chunks: a 31 MB value must not need a 93 MB buffer (which a pool would keep for good).
        Span<byte> utf8 = stackalloc byte[4096];
        ReadOnlySpan<char> rest = value;
        var completed = false;
        while (!completed)
        {
            var encoder = _encoder.Value!;
            encoder.Convert(rest, utf8, flush: true, out var charsUsed, out var bytesUsed, out completed);
            hmac.AppendData(utf8[..bytesUsed]);
            rest = rest[charsUsed..];
        }

        Span<byte> mac = stackalloc byte[32];
        hmac.GetHashAndReset(mac);
        HashPrefix.CopyTo(destination);
        Convert.TryToHexStringLower(mac, destination[HashPrefix.Length..], out _);
    }

    private void Append(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var w = new Utf8JsonWriter(buffer, VaultResult.JsonOutput))
        {
            w.WriteStartObject();
            write(w);
            w.WriteEndObject();
        }

        writer.Append(buffer.WrittenSpan);
    }

    private void WriteAuth(Utf8JsonWriter w, VaultRequest request)
    {
        if (request.Token is not { } token)
        {
            w.WriteNull("auth");
            return;
        }

        w.WriteStartObject("auth");
        w.WriteString("accessor", Hash(token.Accessor));
        w.WriteString("display_name", token.DisplayName);
        w.WriteStartArray("policies");
        foreach (var p in token.Policies)
        {
            w.WriteStringValue(p);
        }

        w.WriteEndArray();
        w.WriteString("token_type", "service");
        w.WriteEndObject();
    }

    private static void WriteRequestHeader(Utf8JsonWriter w, VaultRequest request)
    {
        w.WriteString("id", request.RequestId);
        w.WriteString("operation", request.Operation);
        w.WriteString("path", request.Path);
        w.WriteString("remote_address", request.RemoteAddress);
    }

    private void WriteHashed(Utf8JsonWriter w, JsonNode? node)
    {
        switch (node)
        {
            case null:
                w.WriteNullValue();
                break;
            case JsonObject o:
                w.WriteStartObject();
                foreach (var (name, child) in o)
                {
                    w.WritePropertyName(name);
                    WriteHashed(w, child);
                }

                w.WriteEndObject();
                break;
            case JsonArray a:
                w.WriteStartArray();
                foreach (var child in a)
                {
                    WriteHashed(w, child);
                }

                w.WriteEndArray();
                break;
            case JsonValue v when v.GetValueKind() == JsonValueKind.String:
                Span<char> hashed = stackalloc char[HashPrefix.Length + 64];
                FormatHash(v.GetValue<string>(), hashed);
                w.WriteStringValue(hashed);
                break;
            default:
                node.WriteTo(w);
                break;
        }
    }
}
