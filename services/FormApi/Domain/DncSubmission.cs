namespace Pii.FormApi.Domain;

/// <summary>A validated DNC submission: names NFC-normalised, phone in E.164, email as given (HTML email syntax).</summary>
internal sealed record DncSubmission(
    string FirstName,
    string? MiddleName,
    string LastName,
    string Phone,
    string Email,
    bool PhoneDnc,
    bool EmailDnc);

/// <summary>A validated preference change: either flag may be absent (unchanged).</summary>
internal sealed record DncPreferencePatch(bool? PhoneDnc, bool? EmailDnc);

/// <summary>Validation failures by JSON field name; messages never contain the submitted value.</summary>
internal sealed class ValidationErrors
{
    private readonly Dictionary<string, List<string>> _errors = new(StringComparer.Ordinal);

    public bool Any => _errors.Count > 0;

    public void Add(string field, string message)
    {
        if (!_errors.TryGetValue(field, out var messages))
        {
            _errors[field] = messages = [];
        }
        messages.Add(message);
    }

    public Dictionary<string, string[]> ToDictionary() => _errors.ToDictionary(e => e.Key, e => e.Value.ToArray(), StringComparer.Ordinal);
}
