using System.Collections.Concurrent;
using Pii.Kms.Http;
using Pii.Kms.Storage;

namespace Pii.Kms.Auth;

/// <summary>
/// Holds the ACL policies and answers "may this token do this operation on this path".
/// Matching follows Vault: rules from all of a token's policies are merged per pattern (deny wins);
/// then the most specific matching pattern decides: an exact path beats any glob; among globs the one with
/// the longer literal text wins. <c>*</c> is only a trailing prefix wildcard; <c>+</c> matches one segment.
/// The built-in <c>root</c> policy allows everything and cannot be changed.
/// </summary>
public sealed class PolicyEvaluator(KmsStore store)
{
    public const string Root = "root";
    public const string Default = "default";
    private const string DefaultPolicyText = """
        # Every token may look itself up and revoke itself (as in Vault's default policy).
        path "auth/token/lookup-self" { capabilities = ["read"] }
        path "auth/token/revoke-self" { capabilities = ["update"] }
        """;

    private readonly ConcurrentDictionary<string, (string Text, AclPolicy Policy)> _policies = new(StringComparer.Ordinal);

    public void Load()
    {
        foreach (var (name, text) in store.LoadAclPolicies())
        {
            _policies[name] = (text, AclPolicy.Parse(name, text));
        }

        if (!_policies.ContainsKey(Default))
        {
            Put(Default, DefaultPolicyText);
        }
    }

    public IReadOnlyList<string> Names() => [.. _policies.Keys.Append(Root).Order(StringComparer.Ordinal)];

    public string? GetText(string name) => name == Root ? "" : _policies.TryGetValue(name, out var p) ? p.Text : null;

    public bool Exists(string name) => _policies.ContainsKey(name);

    public void Put(string name, string text)
    {
        if (name == Root)
        {
            throw VaultException.BadRequest("cannot update \"root\" policy");
        }

        AclPolicy policy;
        try
        {
            policy = AclPolicy.Parse(name, text);
        }
        catch (FormatException e)
        {
            throw VaultException.BadRequest(e.Message);
        }

        store.SaveAclPolicy(name, text);
        _policies[name] = (text, policy);
    }

    public void Delete(string name)
    {
        if (name is Root or Default)
        {
            throw VaultException.BadRequest($"cannot delete \"{name}\" policy");
        }

        store.DeleteAclPolicy(name);
        _policies.TryRemove(name, out _);
    }

    public bool Allows(TokenEntry token, string path, string capability)
    {
        if (token.IsRoot)
        {
            return true;
        }

        var merged = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        foreach (var name in token.Policies.Append(Default))
        {
            if (!_policies.TryGetValue(name, out var entry))
            {
                continue;
            }

            foreach (var rule in entry.Policy.Rules)
            {
                if (!merged.TryGetValue(rule.Pattern, out var caps))
                {
                    merged[rule.Pattern] = caps = new HashSet<string>(StringComparer.Ordinal);
                }

                caps.UnionWith(rule.Capabilities);
            }
        }

        string? best = null;
        var bestScore = (-1, -1);
        foreach (var pattern in merged.Keys)
        {
            if (!Matches(pattern, path))
            {
                continue;
            }

            var exact = pattern.Contains('*', StringComparison.Ordinal) || pattern.Contains('+', StringComparison.Ordinal) ? 0 : 1;
            var literal = pattern.Count(c => c is not '*' and not '+');
            var score = (exact, literal);
            if (score.CompareTo(bestScore) > 0)
            {
                best = pattern;
                bestScore = score;
            }
        }

        if (best is null)
        {
            return false;
        }

        var granted = merged[best];
        return !granted.Contains("deny") && granted.Contains(capability);
    }

    public static bool Matches(string pattern, string path)
    {
        var prefix = pattern.EndsWith('*');
        var body = prefix ? pattern[..^1] : pattern;
        if (!body.Contains('+', StringComparison.Ordinal))
        {
            return prefix ? path.StartsWith(body, StringComparison.Ordinal) : path == body;
        }

        var patternSegments = body.Split('/');
        var pathSegments = path.Split('/');
        if (pathSegments.Length < patternSegments.Length || (!prefix && pathSegments.Length != patternSegments.Length))
        {
            return false;
        }

        for (var i = 0; i < patternSegments.Length; i++)
        {
            var last = i == patternSegments.Length - 1;
            var p = patternSegments[i];
            var s = pathSegments[i];
            if (p == "+")
            {
                continue;
            }

            if (last && prefix ? !s.StartsWith(p, StringComparison.Ordinal) : p != s)
            {
                return false;
            }
        }

        return true;
    }
}
