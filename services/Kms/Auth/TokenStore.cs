using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Pii.Kms.Storage;

namespace Pii.Kms.Auth;

/// <summary>
/// A token as stored: only the SHA-256 of the token text is kept, never the token itself. <see cref="ParentHash"/> is the
/// token that created it (null for orphans: root and bootstrap tokens, or <c>no_parent</c>); revoking a token revokes
/// its descendants, as in Vault.
/// </summary>
public sealed record TokenEntry(string Hash, string Accessor, List<string> Policies, long CreatedUnixSeconds, long? ExpiresUnixSeconds, string DisplayName,
    string? ParentHash = null)
{
    public bool IsRoot => Policies.Contains("root");
}

/// <summary>Issues and resolves tokens. Only SHA-256 digests are kept; a presented token is hashed, then looked up.</summary>
public sealed class TokenStore(KmsStore store, TimeProvider time)
{
    private readonly ConcurrentDictionary<string, TokenEntry> _byHash = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, bool> _revoked = new(StringComparer.Ordinal);
    private readonly Lock _revocation = new();

    public void Load()
    {
        foreach (var entry in store.LoadTokens())
        {
            _byHash[entry.Hash] = entry;
        }

        foreach (var hash in store.LoadRevokedTokens())
        {
            _revoked[hash] = true;
        }
    }

    public bool HasRootToken => _byHash.Values.Any(t => t.IsRoot);

    /// <summary>Stores <paramref name="token"/> (hashed) with the given policies; returns its entry.</summary>
    public TokenEntry Register(string token, IReadOnlyList<string> policies, TimeSpan? ttl, string displayName, TokenEntry? parent = null)
    {
        var now = time.GetUtcNow().ToUnixTimeSeconds();
        var entry = new TokenEntry(HashToken(token), NewAccessor(), [.. policies.Distinct(StringComparer.Ordinal)], now,
            ttl is { } t && t > TimeSpan.Zero ? now + (long)t.TotalSeconds : null, displayName, parent?.Hash);
        lock (_revocation)
        {
            if (_revoked.ContainsKey(entry.Hash))
            {
                throw new InvalidOperationException("The token was revoked and cannot be used again.");
            }

            if (parent is not null && !_byHash.ContainsKey(parent.Hash))
            {
                throw new InvalidOperationException("The parent token was revoked meanwhile.");
            }

            store.SaveToken(entry);
            _byHash[entry.Hash] = entry;
        }

        return entry;
    }

    public bool Exists(string token) => _byHash.ContainsKey(HashToken(token));

    public bool IsRevoked(string token) => _revoked.ContainsKey(HashToken(token));

    /// <summary>
    /// Revokes <paramref name="token"/> and every token it created, directly or not (Vault's revoke-tree). A token
    /// that does not exist is not an error, as in Vault; its hash is still recorded, so it can never be registered.
    /// </summary>
    public void Revoke(string token) => RevokeTree(HashToken(token));

    /// <summary>The live token with this accessor (the token's public handle), or null.</summary>
    public TokenEntry? FindByAccessor(string accessor) =>
        _byHash.Values.FirstOrDefault(e => CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(e.Accessor), Encoding.UTF8.GetBytes(accessor)));

    public IReadOnlyList<string> Accessors() => [.. _byHash.Values.Select(e => e.Accessor).Order(StringComparer.Ordinal)];

    /// <summary>Revokes the token known by <paramref name="entry"/> and its descendants.</summary>
    public void Revoke(TokenEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        RevokeTree(entry.Hash);
    }

    private void RevokeTree(string rootHash)
    {
        lock (_revocation)
        {
            var tree = new List<string> { rootHash };
            for (var i = 0; i < tree.Count; i++)
            {
                tree.AddRange(_byHash.Values.Where(e => e.ParentHash == tree[i]).Select(e => e.Hash));
            }

            store.RevokeTokens(tree, time.GetUtcNow().ToUnixTimeSeconds());
            foreach (var hash in tree)
            {
                _revoked[hash] = true;
                _byHash.TryRemove(hash, out _);
            }
        }
    }

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
