using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Pii.Crypto;
using Pii.Crypto.BlindIndexing;

namespace Pii.FormApi.Domain;

/// <summary>
/// Strict parsing of the public JSON body <c>{"first_name","middle_name","last_name","phone","email","phone_dnc","email_dnc"}</c>:
/// unknown or duplicate fields are rejected, strings must be JSON strings, booleans JSON true/false. Every problem is
/// reported under the field's JSON name; no message repeats the value.
/// </summary>
internal static partial class SubmissionParser
{
    public const int MaxNameLength = 100;
    public const int MaxEmailLength = 254;

    private static readonly string[] SubmissionFields = ["first_name", "middle_name", "last_name", "phone", "email", "phone_dnc", "email_dnc"];
    private static readonly string[] PatchFields = ["phone_dnc", "email_dnc"];

    /// <summary>The HTML Living Standard's valid e-mail address (the input type=email pattern).</summary>
    [GeneratedRegex(@"^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$", RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 100)]
    private static partial Regex HtmlEmail();

    public static DncSubmission? ParseSubmission(ReadOnlyMemory<byte> json, ValidationErrors errors)
    {
        var fields = ReadObject(json, SubmissionFields, errors);
        if (fields is null)
        {
            return null;
        }
        var first = Name(fields, "first_name", required: true, errors);
        var middle = Name(fields, "middle_name", required: false, errors);
        var last = Name(fields, "last_name", required: true, errors);
        var phone = Phone(fields, errors);
        var email = Email(fields, errors);
        var phoneDnc = Boolean(fields, "phone_dnc", required: true, errors);
        var emailDnc = Boolean(fields, "email_dnc", required: true, errors);
        return errors.Any ? null : new DncSubmission(first!, middle, last!, phone!, email!, phoneDnc!.Value, emailDnc!.Value);
    }

    public static DncPreferencePatch? ParsePatch(ReadOnlyMemory<byte> json, ValidationErrors errors)
    {
        var fields = ReadObject(json, PatchFields, errors);
        if (fields is null)
        {
            return null;
        }
        var phoneDnc = Boolean(fields, "phone_dnc", required: false, errors);
        var emailDnc = Boolean(fields, "email_dnc", required: false, errors);
        if (!errors.Any && phoneDnc is null && emailDnc is null)
        {
            errors.Add("body", "Give phone_dnc, email_dnc or both.");
        }
        return errors.Any ? null : new DncPreferencePatch(phoneDnc, emailDnc);
    }

    /// <summary>A name: 1-100 characters after NFC normalisation, no control characters, well-formed UTF-16.</summary>
    public static string? ValidateName(string value, out string? error)
    {
        error = null;
        if (value.AsSpan().ContainsAnyInRange('\uD800', '\uDFFF') && !IsWellFormed(value))
        {
            error = "Must be valid Unicode text.";
            return null;
        }
        var normalized = value.Normalize(NormalizationForm.FormC);
        if (normalized.Any(char.IsControl))
        {
            error = "Must not contain control characters.";
            return null;
        }
        int length = new StringInfo(normalized).LengthInTextElements;
        if (normalized.Trim().Length == 0 || length > MaxNameLength)
        {
            error = $"Must be 1 to {MaxNameLength} characters.";
            return null;
        }
        return normalized;
    }

    public static bool IsValidEmail(string value) => value.Length <= MaxEmailLength && HtmlEmail().IsMatch(value);

    private static Dictionary<string, JsonElement>? ReadObject(ReadOnlyMemory<byte> json, string[] allowed, ValidationErrors errors)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 4 });
        }
        catch (JsonException)
        {
            errors.Add("body", "The body is not valid JSON.");
            return null;
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                errors.Add("body", "The body must be a JSON object.");
                return null;
            }
            var fields = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (!allowed.Contains(property.Name, StringComparer.Ordinal))
                {
                    // The name is echoed only when it is short plain ASCII, so a crafted key cannot smuggle PII into logs.
                    errors.Add(IsPlainFieldName(property.Name) ? property.Name : "body", "Unknown field.");
                    continue;
                }
                if (!fields.TryAdd(property.Name, property.Value.Clone()))
                {
                    errors.Add(property.Name, "Field appears more than once.");
                }
            }
            return errors.Any ? null : fields;
        }
    }

    private static string? Name(Dictionary<string, JsonElement> fields, string field, bool required, ValidationErrors errors)
    {
        var text = String(fields, field, required, errors);
        if (text is null)
        {
            return null;
        }
        var name = ValidateName(text, out var error);
        if (error is not null)
        {
            errors.Add(field, error);
        }
        return name;
    }

    private static string? Phone(Dictionary<string, JsonElement> fields, ValidationErrors errors)
    {
        var text = String(fields, "phone", required: true, errors);
        if (text is null)
        {
            return null;
        }
        try
        {
            return Normalizer.Phone(text);
        }
        catch (MalformedInputException)
        {
            errors.Add("phone", "Must be an international number in E.164 form, e.g. +15551234567.");
            return null;
        }
    }

    private static string? Email(Dictionary<string, JsonElement> fields, ValidationErrors errors)
    {
        var text = String(fields, "email", required: true, errors);
        if (text is null)
        {
            return null;
        }
        if (!IsValidEmail(text))
        {
            errors.Add("email", "Must be a valid e-mail address.");
            return null;
        }
        return text;
    }

    private static string? String(Dictionary<string, JsonElement> fields, string field, bool required, ValidationErrors errors)
    {
        if (!fields.TryGetValue(field, out var element) || element.ValueKind == JsonValueKind.Null)
        {
            if (required)
            {
                errors.Add(field, "Required.");
            }
            return null;
        }
        if (element.ValueKind != JsonValueKind.String)
        {
            errors.Add(field, "Must be a string.");
            return null;
        }
        try
        {
            return element.GetString();
        }
        catch (InvalidOperationException)
        {
            errors.Add(field, "Must be valid Unicode text.");
            return null;
        }
    }

    private static bool? Boolean(Dictionary<string, JsonElement> fields, string field, bool required, ValidationErrors errors)
    {
        if (!fields.TryGetValue(field, out var element))
        {
            if (required)
            {
                errors.Add(field, "Required.");
            }
            return null;
        }
        if (element.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
        {
            errors.Add(field, "Must be true or false.");
            return null;
        }
        return element.GetBoolean();
    }

    private static bool IsWellFormed(string value)
    {
        for (int i = 0; i < value.Length; i++)
        {
            if (char.IsHighSurrogate(value[i]) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(value[i]))
            {
                return false;
            }
        }
        return true;
    }

    private static bool IsPlainFieldName(string name) => name.Length is > 0 and <= 40 && name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_');
}
