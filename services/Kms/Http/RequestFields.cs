using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Pii.Kms.Transit;

namespace Pii.Kms.Http;

/// <summary>
/// Reads request fields the way Vault's framework does: weak typing for top-level fields (numbers may come
/// as numeric strings, durations as "24h" or seconds), a warning for fields the endpoint does not know,
/// and Vault's conversion error text (400) for wrong types.
/// </summary>
public sealed class RequestFields
{
    private readonly JsonObject _body;

    public RequestFields(VaultRequest request, params string[] known)
    {
        ArgumentNullException.ThrowIfNull(request);
        _body = request.Body;
        var unknown = _body.Select(p => p.Key).Where(k => !known.Contains(k, StringComparer.Ordinal)).Order(StringComparer.Ordinal).ToList();
        if (unknown.Count > 0)
        {
            request.Warnings.Add($"Endpoint ignored these unrecognized parameters: [{string.Join(' ', unknown)}]");
        }
    }

    public RequestFields(JsonObject item) => _body = item;

    public bool Has(string name) => _body.TryGetPropertyValue(name, out var node) && node is not null;

    public JsonNode? Raw(string name) => _body.TryGetPropertyValue(name, out var node) ? node : null;

    public string? GetString(string name)
    {
        var node = Raw(name);
        return node switch
        {
            null => null,
            JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
            JsonValue v when v.GetValueKind() == JsonValueKind.Number => v.ToJsonString(),
            JsonValue v when v.GetValueKind() is JsonValueKind.True or JsonValueKind.False => v.GetValueKind() == JsonValueKind.True ? "1" : "0",
            _ => throw Conversion(node, name, "expected type 'string'"),
        };
    }

    /// <summary>Weak int: JSON number or numeric string ("" = 0).</summary>
    public int GetInt(string name, int defaultValue = 0)
    {
        var node = Raw(name);
        if (node is null)
        {
            return defaultValue;
        }

        if (node is JsonValue v)
        {
            switch (v.GetValueKind())
            {
                case JsonValueKind.Number:
                    if (v.TryGetValue<int>(out var i))
                    {
                        return i;
                    }

                    if (v.TryGetValue<double>(out var d) && d == Math.Floor(d) && d is >= int.MinValue and <= int.MaxValue)
                    {
                        return (int)d;
                    }

                    break;
                case JsonValueKind.String:
                    var s = v.GetValue<string>();
                    if (s.Length == 0)
                    {
                        return 0;
                    }

                    if (int.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var parsed))
                    {
                        return parsed;
                    }

                    throw VaultException.BadRequest($"error converting input {s} for field \"{name}\": strconv.ParseInt: parsing \"{s}\": invalid syntax");
                case JsonValueKind.True:
                    return 1;
                case JsonValueKind.False:
                    return 0;
            }
        }

        throw Conversion(node, name, "expected type 'int'");
    }

    /// <summary>Strict int for batch items: only a JSON number (Vault decodes batch items without weak typing).</summary>
    public int StrictInt(string name)
    {
        var node = Raw(name);
        if (node is null)
        {
            return 0;
        }

        if (node is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue<int>(out var i))
        {
            return i;
        }

        throw new BatchParseException($"'{name}' expected type 'int', got unconvertible type '{KindName(node)}'");
    }

    public string? StrictString(string name)
    {
        var node = Raw(name);
        if (node is null)
        {
            return null;
        }

        if (node is JsonValue v && v.GetValueKind() == JsonValueKind.String)
        {
            return v.GetValue<string>();
        }

        throw new BatchParseException($"'{name}' expected type 'string', got unconvertible type '{KindName(node)}'");
    }

    public bool? GetBool(string name)
    {
        var node = Raw(name);
        if (node is null)
        {
            return null;
        }

        if (node is JsonValue v)
        {
            switch (v.GetValueKind())
            {
                case JsonValueKind.True:
                    return true;
                case JsonValueKind.False:
                    return false;
                case JsonValueKind.String:
                    var s = v.GetValue<string>();
                    if (bool.TryParse(s, out var b))
                    {
                        return b;
                    }

                    if (s is "1" or "0" or "")
                    {
                        return s == "1";
                    }

                    throw VaultException.BadRequest($"error converting input {s} for field \"{name}\": strconv.ParseBool: parsing \"{s}\": invalid syntax");
                case JsonValueKind.Number:
                    return v.GetValue<double>() != 0;
            }
        }

        throw Conversion(node, name, "expected type 'bool'");
    }

    /// <summary>Duration in seconds: integer seconds (number or string) or Go duration text ("24h", "1h30m", "90s").</summary>
    public long? DurationSeconds(string name)
    {
        var node = Raw(name);
        if (node is null)
        {
            return null;
        }

        if (node is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue<long>(out var n))
        {
            return n;
        }

        if (node is JsonValue s && s.GetValueKind() == JsonValueKind.String && TryParseDuration(s.GetValue<string>(), out var seconds))
        {
            return seconds;
        }

        throw VaultException.BadRequest($"error converting input {node.ToJsonString()} for field \"{name}\": invalid duration");
    }

    public List<string>? StringList(string name)
    {
        var node = Raw(name);
        return node switch
        {
            null => null,
            JsonArray a when a.All(x => x is JsonValue xv && xv.GetValueKind() == JsonValueKind.String) => [.. a.Select(x => x!.GetValue<string>())],
            JsonValue v when v.GetValueKind() == JsonValueKind.String =>
                [.. v.GetValue<string>().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)],
            _ => throw Conversion(node, name, "expected a list of strings"),
        };
    }

    /// <summary>Optional base64 field decoded strictly; a bad value is a 400 with Go's message.</summary>
    public byte[]? GetBase64(string name)
    {
        var text = GetString(name);
        if (text is null)
        {
            return null;
        }

        try
        {
            return VaultBase64.Decode(text);
        }
        catch (FormatException e)
        {
            throw VaultException.BadRequest(e.Message);
        }
    }

    public static bool TryParseDuration(string text, out long seconds)
    {
        seconds = 0;
        if (string.IsNullOrEmpty(text))
        {
            return false;
        }

        if (long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out seconds))
        {
            return true;
        }

        double total = 0;
        var i = 0;
        while (i < text.Length)
        {
            var start = i;
            while (i < text.Length && (char.IsAsciiDigit(text[i]) || text[i] == '.'))
            {
                i++;
            }

            if (start == i || !double.TryParse(text.AsSpan(start, i - start), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value))
            {
                return false;
            }

            var unitStart = i;
            while (i < text.Length && char.IsAsciiLetter(text[i]))
            {
                i++;
            }

            var factor = text[unitStart..i] switch
            {
                "h" => 3600.0,
                "m" => 60.0,
                "s" => 1.0,
                "ms" => 0.001,
                "d" => 86400.0,
                _ => double.NaN,
            };
            if (double.IsNaN(factor))
            {
                return false;
            }

            total += value * factor;
        }

        seconds = (long)total;
        return true;
    }

    private static VaultException Conversion(JsonNode node, string name, string expected) =>
        VaultException.BadRequest($"error converting input for field \"{name}\": {expected}, got '{KindName(node)}'");

    private static string KindName(JsonNode node) => node switch
    {
        JsonObject => "map",
        JsonArray => "slice",
        JsonValue v => v.GetValueKind() switch
        {
            JsonValueKind.String => "string",
            JsonValueKind.Number => "float64",
            JsonValueKind.True or JsonValueKind.False => "bool",
            _ => "null",
        },
        _ => "unknown",
    };
}

/// <summary>A batch item that does not decode; Vault returns it as a bare error, which its generic mapping makes a 500.</summary>
public sealed class BatchParseException(string message) : Exception(message);
