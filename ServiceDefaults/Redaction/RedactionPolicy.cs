namespace Pii.ServiceDefaults.Redaction;

/// <summary>
/// The rules both redacting processors apply before anything is exported:
/// <list type="bullet">
/// <item>a value tagged <see cref="ISensitive"/> becomes <see cref="Sensitive.Redacted"/>;</item>
/// <item>query strings are removed: <c>url.query</c> / <c>QueryString</c> attributes are dropped, and the query part of
/// URL-valued attributes (<c>url.full</c>, <c>http.url</c>, <c>http.target</c>, <c>Uri</c>) is cut off, because callers
/// put identifiers there;</item>
/// <item>attributes that would carry message bodies (<see cref="BodyAttributeNames"/>) are dropped: bodies are never
/// recorded.</item>
/// </list>
/// </summary>
internal static class RedactionPolicy
{
    public static readonly IReadOnlySet<string> QueryAttributeNames =
        new HashSet<string>(["url.query", "QueryString"], StringComparer.OrdinalIgnoreCase);

    public static readonly IReadOnlySet<string> UrlAttributeNames =
        new HashSet<string>(["url.full", "http.url", "http.target", "Uri", "url.original"], StringComparer.OrdinalIgnoreCase);

    public static readonly IReadOnlySet<string> BodyAttributeNames =
        new HashSet<string>(["http.request.body", "http.response.body", "RequestBody", "ResponseBody", "Body"], StringComparer.OrdinalIgnoreCase);

    public enum Action
    {
        Keep,
        Drop,
        Replace,
    }

    /// <summary>Decides what happens to one attribute; <paramref name="replacement"/> is set for <see cref="Action.Replace"/>.</summary>
    public static Action Apply(string key, object? value, out object? replacement)
    {
        replacement = null;
        if (value is ISensitive)
        {
            replacement = Sensitive.Redacted;
            return Action.Replace;
        }
        if (QueryAttributeNames.Contains(key) || BodyAttributeNames.Contains(key))
        {
            return Action.Drop;
        }
        if (UrlAttributeNames.Contains(key) || value is Uri)
        {
            var text = value?.ToString();
            if (text is not null && text.Contains('?', StringComparison.Ordinal))
            {
                replacement = StripQuery(text);
                return Action.Replace;
            }
        }
        return Action.Keep;
    }

    public static string StripQuery(string url)
    {
        var query = url.IndexOf('?', StringComparison.Ordinal);
        return query < 0 ? url : url[..query];
    }

    /// <summary>The query part (from '?') of a URL-valued attribute, so it can be cut out of a formatted message too.</summary>
    public static string? QueryPartOf(string key, object? value)
    {
        if (value is null || !(UrlAttributeNames.Contains(key) || QueryAttributeNames.Contains(key) || value is Uri))
        {
            return null;
        }
        var text = value.ToString() ?? "";
        var query = text.IndexOf('?', StringComparison.Ordinal);
        return query < 0 || query == text.Length - 1 ? null : text[query..];
    }
}
