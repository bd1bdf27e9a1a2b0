using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Pii.Kms.Storage;

namespace Pii.Kms.Auth;

/// <summary>A token as stored: only the SHA-256 of the token text is kept, never the token itself.</summary>
public sealed record TokenEntry(string Hash, string Accessor, List<string> Policies, long CreatedUnixSeconds, long? ExpiresUnixSeconds, string DisplayName)
{
    public bool IsRoot => Policies.Contains("root");
}

/// <summary>Issues and resolves tokens. Only SHA-256 digests are kept; a presented token is hashed, then looked up.</summary>
public sealed class TokenStore(KmsStore store, TimeProvider time)
{
    private readonly ConcurrentDictionary<string, TokenEntry> _byHash = new(StringComparer.Ordinal);

    public void Load()
    {
        foreach (var entry in store.LoadTokens())
        {
            _byHash[entry.Hash] = entry;
        }
    }

    public bool HasRootToken => _byHash.Values.Any(t => t.IsRoot);

    /// <summary>Stores <paramref name="token"/> (hashed) with the given policies; returns its entry.</summary>
    public TokenEntry Register(string token, IReadOnlyList<string> policies, TimeSpan? ttl, string displayName)
    {
        var now = time.GetUtcNow().ToUnixTimeSeconds();
        var entry = new TokenEntry(HashToken(token), NewAccessor(), [.. policies.Distinct(StringComparer.Ordinal)], now,
            ttl is { } t && t > TimeSpan.Zero ? now + (long)t.TotalSeconds : null, displayName);
        store.SaveToken(entry);
        _byHash[entry.Hash] = entry;
        return entry;
    }

    public bool Exists(string token) => _byHash.ContainsKey(HashToken(token));

    public TokenEntry? Resolve(string? token)
    {
        if (string.IsNullOrEmpty(token))
        {
            return null;
        }

        // Lookup is by SHA-256 digest, never by token text: timing of the digest comparison tells an attacker nothing
        // they can steer toward a valid token (a preimage would be needed), so no fixed-time compare is required here.
        if (!_byHash.TryGetValue(HashToken(token), out var entry))
        {
            return null;
        }

        if (entry.ExpiresUnixSeconds is { } expires && time.GetUtcNow().ToUnixTimeSeconds() >= expires)
        {
            return null;
        }

        return entry;
    }

    /// <summary>A new random token in Vault's service-token style (<c>hvs.</c> + 24 base62 characters, 142 bits).</summary>
    public static string NewToken() => "hvs." + RandomNumberGenerator.GetString("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", 24);

    public static string HashToken(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    private static string NewAccessor() => RandomNumberGenerator.GetString("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", 24);
}
