using System.Text.Json;

namespace Pii.Kms.Auth;

/// <summary>One <c>path "..." { capabilities = [...] }</c> rule.</summary>
public sealed record AclRule(string Pattern, IReadOnlySet<string> Capabilities);

/// <summary>
/// A Vault ACL policy: path patterns with capabilities. Parses the HCL subset
/// <c>path "glob" { capabilities = ["read", ...] }</c> (with <c>#</c>, <c>//</c> and <c>/* */</c> comments) and the
/// equivalent JSON form <c>{"path": {"glob": {"capabilities": [...]}}}</c>. Input is bounded by the request limit.
/// </summary>
public sealed class AclPolicy
{
    public static readonly IReadOnlySet<string> KnownCapabilities =
        new HashSet<string>(StringComparer.Ordinal) { "create", "read", "update", "delete", "list", "sudo", "deny", "patch" };

    private AclPolicy(string name, IReadOnlyList<AclRule> rules)
    {
        Name = name;
        Rules = rules;
    }

    public string Name { get; }

    public IReadOnlyList<AclRule> Rules { get; }

    /// <summary>Parses policy text; <see cref="FormatException"/> with a user-facing message on bad input.</summary>
    public static AclPolicy Parse(string name, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var trimmed = text.TrimStart();
        var rules = trimmed.StartsWith('{') ? ParseJson(text) : new HclParser(text).ParseRules();
        foreach (var rule in rules)
        {
            var unknown = rule.Capabilities.FirstOrDefault(c => !KnownCapabilities.Contains(c));
            if (unknown is not null)
            {
                throw new FormatException($"failed to parse policy: path {rule.Pattern}: invalid capability \"{unknown}\"");
            }
        }

        return new AclPolicy(name, rules);
    }

    private static List<AclRule> ParseJson(string text)
    {
        try
        {
            using var doc = JsonDocument.Parse(text);
            var rules = new List<AclRule>();
            if (doc.RootElement.TryGetProperty("path", out var paths))
            {
                foreach (var path in paths.EnumerateObject())
                {
                    var caps = new HashSet<string>(StringComparer.Ordinal);
                    if (path.Value.TryGetProperty("capabilities", out var list))
                    {
                        foreach (var cap in list.EnumerateArray())
                        {
                            caps.Add(cap.GetString() ?? throw new FormatException("failed to parse policy: capability must be a string"));
                        }
                    }

                    rules.Add(new AclRule(path.Name, caps));
                }
            }

            return rules;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            throw new FormatException("failed to parse policy: invalid JSON policy");
        }
    }

    /// <summary>A tiny tokenizer for the HCL subset: strings, identifiers, <c>{ } [ ] = ,</c>.</summary>
    private sealed class HclParser(string text)
    {
        private int _pos;

        public List<AclRule> ParseRules()
        {
            var rules = new List<AclRule>();
            while (true)
            {
                var token = Next();
                if (token is null)
                {
                    return rules;
                }

                if (token != "path")
                {
                    throw Error($"unexpected '{token}', expected 'path'");
                }

                var pattern = ExpectString();
                Expect("{");
                var caps = new HashSet<string>(StringComparer.Ordinal);
                while (true)
                {
                    var key = Next() ?? throw Error("unexpected end of policy");
                    if (key == "}")
                    {
                        break;
                    }

                    Expect("=");
                    if (key == "capabilities")
                    {
                        Expect("[");
                        while (true)
                        {
                            var item = Next() ?? throw Error("unexpected end of policy");
                            if (item == "]")
                            {
                                break;
                            }

                            if (item == ",")
                            {
                                continue;
                            }

                            caps.Add(Unquote(item));
                        }
                    }
                    else
                    {
                        SkipValue();
                    }
                }

                rules.Add(new AclRule(pattern, caps));
            }
        }

        private void SkipValue()
        {
            var depth = 0;
            do
            {
                var t = Next() ?? throw Error("unexpected end of policy");
                if (t is "[" or "{")
                {
                    depth++;
                }
                else if (t is "]" or "}")
                {
                    depth--;
                }
            }
            while (depth > 0);
        }

        private string ExpectString()
        {
            var t = Next() ?? throw Error("unexpected end of policy");
            return Unquote(t);
        }

        private string Unquote(string token) =>
            token.Length >= 2 && token[0] == '"' ? token[1..^1] : throw Error($"expected a quoted string, got '{token}'");

        private void Expect(string expected)
        {
            var t = Next();
            if (t != expected)
            {
                throw Error($"expected '{expected}', got '{t ?? "end of policy"}'");
            }
        }

        private string? Next()
        {
            SkipSpaceAndComments();
            if (_pos >= text.Length)
            {
                return null;
            }

            var c = text[_pos];
            if (c is '{' or '}' or '[' or ']' or '=' or ',')
            {
                _pos++;
                return c.ToString();
            }

            if (c == '"')
            {
                var end = _pos + 1;
                while (end < text.Length && text[end] != '"')
                {
                    if (text[end] == '\\')
                    {
                        end++;
                    }

                    end++;
                }

                if (end >= text.Length)
                {
                    throw Error("unterminated string");
                }

                var token = text[_pos..(end + 1)];
                _pos = end + 1;
                return token;
            }

            var start = _pos;
            while (_pos < text.Length && (char.IsLetterOrDigit(text[_pos]) || text[_pos] is '_' or '-' or '.'))
            {
                _pos++;
            }

            if (start == _pos)
            {
                throw Error($"unexpected character '{c}'");
            }

            return text[start.._pos];
        }

        private void SkipSpaceAndComments()
        {
            while (_pos < text.Length)
            {
                if (char.IsWhiteSpace(text[_pos]))
                {
                    _pos++;
                }
                else if (text[_pos] == '#' || (text[_pos] == '/' && _pos + 1 < text.Length && text[_pos + 1] == '/'))
                {
                    while (_pos < text.Length && text[_pos] != '\n')
                    {
                        _pos++;
                    }
                }
                else if (text[_pos] == '/' && _pos + 1 < text.Length && text[_pos + 1] == '*')
                {
                    var end = text.IndexOf("*/", _pos + 2, StringComparison.Ordinal);
                    _pos = end < 0 ? text.Length : end + 2;
                }
                else
                {
                    return;
                }
            }
        }

        private FormatException Error(string message) => new($"failed to parse policy: {message} at offset {_pos}");
    }
}
