using System.Text.Json.Nodes;
using Google.Protobuf;

namespace Pii.AppHost.Dashboard.Otlp;

/// <summary>
/// OTLP/JSON (the spec's "JSON Protobuf Encoding"): the proto3 JSON mapping with one difference — trace and span ids
/// are hex strings, not base64. They are rewritten to base64 before Google.Protobuf's parser reads the document;
/// unknown fields are ignored, as the spec requires of receivers.
/// </summary>
internal static class OtlpJson
{
    private static readonly HashSet<string> IdFields = new(StringComparer.Ordinal) { "traceId", "spanId", "parentSpanId" };
    private static readonly JsonParser Parser = new(JsonParser.Settings.Default.WithIgnoreUnknownFields(true));
    private const int MaxDepth = 64;

    /// <exception cref="OtlpJsonException">The document is not OTLP/JSON.</exception>
    public static TRequest Parse<TRequest>(ReadOnlySpan<byte> utf8) where TRequest : IMessage<TRequest>, new()
    {
        JsonNode? document;
        try
        {
            document = JsonNode.Parse(utf8, documentOptions: new System.Text.Json.JsonDocumentOptions { MaxDepth = MaxDepth });
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new OtlpJsonException("The body is not JSON: " + e.Message);
        }
        if (document is not JsonObject)
        {
            throw new OtlpJsonException("An OTLP/JSON request is a JSON object.");
        }
        HexIdsToBase64(document);
        try
        {
            return Parser.Parse<TRequest>(document.ToJsonString());
        }
        catch (InvalidJsonException e)
        {
            throw new OtlpJsonException(e.Message);
        }
    }

    private static void HexIdsToBase64(JsonNode node)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var (key, value) in obj.ToList())
                {
                    if (IdFields.Contains(key) && value is JsonValue id && id.TryGetValue<string>(out var hex))
                    {
                        obj[key] = ToBase64(hex);
                    }
                    else if (value is not null)
                    {
                        HexIdsToBase64(value);
                    }
                }
                break;
            case JsonArray array:
                foreach (var item in array)
                {
                    if (item is not null)
                    {
                        HexIdsToBase64(item);
                    }
                }
                break;
        }
    }

    private static string ToBase64(string hex)
    {
        try
        {
            return Convert.ToBase64String(Convert.FromHexString(hex));
        }
        catch (FormatException)
        {
            throw new OtlpJsonException("Trace and span ids in OTLP/JSON are hex strings.");
        }
    }
}

/// <summary>An OTLP/JSON body that cannot be read; the receiver answers 400.</summary>
internal sealed class OtlpJsonException(string message) : Exception(message);
