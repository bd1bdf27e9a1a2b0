using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Configuration;

namespace Pii.ServiceDefaults.Auth;

/// <summary>
/// Role API keys as the AppHost injects them: <c>Auth:ApiKeyHashes:&lt;role&gt;</c> = lower-case hex SHA-256 of the key
/// (the services never see a key itself). A presented key is hashed and compared with every role's hash in constant
/// time, always all of them, so timing tells nothing about which (or whether a) role matched.
/// </summary>
public sealed class ApiKeyRoles
{
    public const string HeaderName = "X-Api-Key";
    private const int MaxKeyLength = 256;
    private readonly List<(string Role, byte[] Hash)> _roles = [];

    public ApiKeyRoles(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        foreach (var entry in configuration.GetSection("Auth:ApiKeyHashes").GetChildren())
        {
            if (entry.Value is { Length: 64 } hex)
            {
                _roles.Add((entry.Key, Convert.FromHexString(hex)));
            }
        }
    }

    /// <summary>The role whose key this is and a short fingerprint of the key for access logs, or null.</summary>
    public ApiKeyMatch? Match(string? presented)
    {
        if (string.IsNullOrEmpty(presented) || presented.Length > MaxKeyLength)
        {
            return null;
        }

        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(presented));
        string? role = null;
        foreach (var (name, expected) in _roles)
        {
            if (CryptographicOperations.FixedTimeEquals(hash, expected))
            {
                role = name;
            }
        }

        // The fingerprint names the key in a log without being the stored hash: SHA-256 over the hash, 8 bytes.
        return role is null ? null : new ApiKeyMatch(role, Convert.ToHexStringLower(SHA256.HashData(hash).AsSpan(0, 8)));
    }
}

public sealed record ApiKeyMatch(string Role, string KeyFingerprint);
