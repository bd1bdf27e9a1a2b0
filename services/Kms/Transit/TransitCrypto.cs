using System.Globalization;
using System.Security.Cryptography;
using Pii.Kms.Http;

namespace Pii.Kms.Transit;

/// <summary>
/// Vault's aes256-gcm96 ciphertext and HMAC formats.
///
/// Ciphertext text:  "vault:v" decimal-version ":" base64std( nonce[12] ‖ AES-256-GCM ciphertext[len(pt)] ‖ tag[16] )
/// HMAC text:        "vault:v" decimal-version ":" base64std( HMAC-SHA2-x(version HMAC key, input) )
///
/// Encryption key of version v:
///   not derived:  the stored 32-byte key.
///   derived:      HKDF-SHA256(IKM = stored key, salt = empty (32 zero bytes), info = context, L = 32).
/// Convergent v3 (derived only): HKDF output extended to L = 64; bytes 32..63 are an HMAC key and
///   nonce = HMAC-SHA256(that key, plaintext)[0..12]. Because HKDF output is prefix-stable, decryption derives
///   L = 32 and gets the same AES key. Associated data is fed to GCM and not stored.
/// All user-facing error texts are Vault's.
/// </summary>
public static class TransitCrypto
{
    public const int NonceSize = 12;
    public const int TagSize = 16;
    public const string TooOld = "ciphertext or signature version is disallowed by policy (too old)";
    public const string AuthenticationFailed = "cipher: message authentication failed";

    public static (string Ciphertext, int Version) Encrypt(TransitPolicy policy, int requestedVersion, ReadOnlySpan<byte> plaintext, byte[]? context, byte[]? nonce, byte[]? associatedData)
    {
        var version = SelectEncryptionVersion(policy, requestedVersion);
        if (nonce is { Length: > 0 })
        {
            throw VaultException.BadRequest("provided nonce not allowed for this key");
        }

        var convergent = policy.ConvergentVersionOf(version);
        var keyBytes = convergent > 2 ? 64 : 32;
        var key = EncryptionKey(policy, version, context, keyBytes);
        try
        {
            var output = new byte[NonceSize + plaintext.Length + TagSize];
            var nonceSpan = output.AsSpan(0, NonceSize);
            if (convergent > 2)
            {
                Span<byte> mac = stackalloc byte[32];
                HMACSHA256.HashData(key.AsSpan(32, 32), plaintext, mac);
                mac[..NonceSize].CopyTo(nonceSpan);
            }
            else if (convergent == 2)
            {
                Span<byte> mac = stackalloc byte[32];
                HMACSHA256.HashData(context, plaintext, mac);
                mac[..NonceSize].CopyTo(nonceSpan);
            }
            else
            {
                RandomNumberGenerator.Fill(nonceSpan);
            }

            var gcm = Cipher(policy.Versions[version], key, out var owned);
            try
            {
                gcm.Encrypt(nonceSpan, plaintext, output.AsSpan(NonceSize, plaintext.Length), output.AsSpan(NonceSize + plaintext.Length), associatedData);
            }
            finally
            {
                if (owned)
                {
                    gcm.Dispose();
                }
            }

            return (Prefix(version) + Convert.ToBase64String(output), version);
        }
        finally
        {
            if (!ReferenceEquals(key, policy.Versions[version].Key))
            {
                CryptographicOperations.ZeroMemory(key);
            }
        }
    }

    /// <summary>Decrypts a <c>vault:vN:</c> ciphertext; the version comes from the prefix, never from the request.</summary>
    public static (byte[] Plaintext, int Version) Decrypt(TransitPolicy policy, string ciphertext, byte[]? context, byte[]? associatedData)
    {
        var (version, body) = ParseVersioned(policy, ciphertext, "ciphertext");
        if (policy.ConvergentVersionOf(version) == 1)
        {
            throw VaultException.BadRequest("invalid convergent nonce supplied");
        }

        if (!VaultBase64.TryDecode(body, out var decoded))
        {
            throw VaultException.BadRequest("invalid ciphertext: could not decode base64");
        }

        if (decoded.Length < NonceSize)
        {
            throw VaultException.BadRequest("invalid ciphertext length");
        }

        if (decoded.Length < NonceSize + TagSize)
        {
            throw VaultException.BadRequest(AuthenticationFailed);
        }

        var key = EncryptionKey(policy, version, context, 32);
        try
        {
            var plaintext = new byte[decoded.Length - NonceSize - TagSize];
            var gcm = Cipher(policy.Versions[version], key, out var owned);
            try
            {
                gcm.Decrypt(decoded.AsSpan(0, NonceSize), decoded.AsSpan(NonceSize, plaintext.Length), decoded.AsSpan(NonceSize + plaintext.Length), plaintext, associatedData);
            }
            catch (AuthenticationTagMismatchException)
            {
                throw VaultException.BadRequest(AuthenticationFailed);
            }
            finally
            {
                if (owned)
                {
                    gcm.Dispose();
                }
            }

            return (plaintext, version);
        }
        finally
        {
            if (!ReferenceEquals(key, policy.Versions[version].Key))
            {
                CryptographicOperations.ZeroMemory(key);
            }
        }
    }

    public static string Hmac(TransitPolicy policy, int requestedVersion, string algorithm, ReadOnlySpan<byte> input)
    {
        var version = requestedVersion switch
        {
            0 => policy.LatestVersion,
            < 0 => throw VaultException.BadRequest("key version does not exist (cannot be negative)"),
            _ when requestedVersion > policy.LatestVersion => throw VaultException.BadRequest($"key version does not exist; latest key version is {policy.LatestVersion}"),
            _ => requestedVersion,
        };
        if (!policy.Versions.TryGetValue(version, out var entry))
        {
            throw VaultException.BadRequest("no such key version");
        }

        var mac = algorithm switch
        {
            "sha2-256" => HMACSHA256.HashData(entry.HmacKey, input),
            "sha2-384" => HMACSHA384.HashData(entry.HmacKey, input),
            "sha2-512" => HMACSHA512.HashData(entry.HmacKey, input),
            "sha3-256" when HMACSHA3_256.IsSupported => HMACSHA3_256.HashData(entry.HmacKey, input),
            "sha3-384" when HMACSHA3_384.IsSupported => HMACSHA3_384.HashData(entry.HmacKey, input),
            "sha3-512" when HMACSHA3_512.IsSupported => HMACSHA3_512.HashData(entry.HmacKey, input),
            _ => throw VaultException.BadRequest($"unsupported algorithm {algorithm}"),
        };
        return Prefix(version) + Convert.ToBase64String(mac);
    }

    public static string Prefix(int version) => "vault:v" + version.ToString(CultureInfo.InvariantCulture) + ":";

    /// <summary>Splits <c>vault:vN:body</c> and applies Vault's version gates in Vault's order.</summary>
    public static (int Version, string Body) ParseVersioned(TransitPolicy policy, string text, string what)
    {
        const string prefix = "vault:v";
        if (!text.StartsWith(prefix, StringComparison.Ordinal))
        {
            throw VaultException.BadRequest($"invalid {what}: no prefix");
        }

        var rest = text.AsSpan(prefix.Length);
        var colon = rest.IndexOf(':');
        if (colon < 0)
        {
            throw VaultException.BadRequest($"invalid {what}: wrong number of fields");
        }

        if (!int.TryParse(rest[..colon], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var version))
        {
            throw VaultException.BadRequest($"invalid {what}: version number could not be decoded");
        }

        if (version == 0)
        {
            version = 1;
        }

        if (version > policy.LatestVersion)
        {
            throw VaultException.BadRequest($"invalid {what}: version is too new");
        }

        if (policy.MinDecryptionVersion > 0 && version < policy.MinDecryptionVersion)
        {
            throw VaultException.BadRequest(TooOld);
        }

        if (!policy.Versions.ContainsKey(version))
        {
            throw VaultException.BadRequest("no such key version");
        }

        return (version, rest[(colon + 1)..].ToString());
    }

    public static int SelectEncryptionVersion(TransitPolicy policy, int requested) => requested switch
    {
        0 => policy.LatestVersion,
        < 0 => throw VaultException.BadRequest("requested version for encryption is negative"),
        _ when requested > policy.LatestVersion => throw VaultException.BadRequest("requested version for encryption is higher than the latest key version"),
        _ when requested < policy.MinEncryptionVersion => throw VaultException.BadRequest("requested version for encryption is less than the minimum encryption key version"),
        _ when !policy.Versions.ContainsKey(requested) => throw VaultException.BadRequest("no such key version"),
        _ => requested,
    };

    /// <summary>
    /// An AES-GCM instance for <paramref name="key"/>. For a version's own (non-derived) key the instance is cached per
    /// thread (AesGcm is not thread-safe) so the key schedule is not rebuilt for every item; derived keys get a fresh
    /// instance the caller disposes (<paramref name="owned"/>).
    /// </summary>
    private static AesGcm Cipher(KeyVersion version, byte[] key, out bool owned)
    {
        owned = !ReferenceEquals(key, version.Key);
        if (owned)
        {
            return new AesGcm(key.AsSpan(0, 32), TagSize);
        }

        if (!ReferenceEquals(t_cachedVersion, version))
        {
            t_cachedCipher?.Dispose();
            t_cachedCipher = new AesGcm(version.Key, TagSize);
            t_cachedVersion = version;
        }

        return t_cachedCipher!;
    }

    [ThreadStatic]
    private static KeyVersion? t_cachedVersion;

    [ThreadStatic]
    private static AesGcm? t_cachedCipher;

    /// <summary>The stored key itself (not derived) or a fresh HKDF output the caller must zero.</summary>
    private static byte[] EncryptionKey(TransitPolicy policy, int version, byte[]? context, int length)
    {
        var entry = policy.Versions[version];
        if (!policy.Derived)
        {
            return entry.Key;
        }

        if (context is not { Length: > 0 })
        {
            throw VaultException.BadRequest("missing 'context' for key derivation; the key was created using a derived key, which means additional, per-request information must be included in order to perform operations with the key");
        }

        return HKDF.DeriveKey(HashAlgorithmName.SHA256, entry.Key, length, salt: [], info: context);
    }
}
