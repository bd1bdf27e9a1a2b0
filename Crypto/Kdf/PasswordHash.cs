using System.Security.Cryptography;

namespace Pii.Crypto.Kdf;

/// <summary>
/// Password verifiers in the PHC string format, so the parameters travel with the hash and can rise later:
/// <c>$argon2id$v=19$m=65536,t=2,p=1$SALT$HASH</c> or <c>$pbkdf2-sha256$i=600000$SALT$HASH</c>, where SALT (16 bytes)
/// and HASH (32 bytes) are standard base64 without padding (PHC string format, github.com/P-H-C/phc-string-format).
/// Verification recomputes with the stored parameters and compares in constant time.
/// </summary>
public static class PasswordHash
{
    public const int HashSize = 32;

    /// <summary>Hashes <paramref name="password"/> under <paramref name="parameters"/> with a fresh random salt.</summary>
    public static string Hash(ReadOnlySpan<byte> password, PasswordKdfParameters parameters)
    {
        byte[] salt = RandomNumberGenerator.GetBytes(PasswordKdf.SaltSize);
        byte[] hash = PasswordKdf.DeriveKey(parameters, password, salt, HashSize);
        try
        {
            return $"{parameters}${ToB64(salt)}${ToB64(hash)}";
        }
        finally
        {
            CryptographicOperations.ZeroMemory(hash);
        }
    }

    /// <summary>Whether <paramref name="password"/> matches <paramref name="encoded"/> (constant-time on the hash).</summary>
    /// <exception cref="MalformedInputException">The encoded string does not parse or its parameters are out of bounds.</exception>
    /// <exception cref="UnsupportedVersionException">An algorithm or Argon2 version this build does not read.</exception>
    public static bool Verify(ReadOnlySpan<byte> password, string encoded)
    {
        (PasswordKdfParameters parameters, byte[] salt, byte[] expected) = Parse(encoded);
        byte[] actual = PasswordKdf.DeriveKey(parameters, password, salt, expected.Length);
        try
        {
            return CryptographicOperations.FixedTimeEquals(actual, expected);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(actual);
        }
    }

    /// <summary>Whether a stored hash used other parameters than <paramref name="current"/> and should be replaced at the next successful login.</summary>
    public static bool NeedsRehash(string encoded, PasswordKdfParameters current) => Parse(encoded).Parameters != current;

    /// <summary>Reads a PHC string's parameters, salt and hash.</summary>
    internal static (PasswordKdfParameters Parameters, byte[] Salt, byte[] Hash) Parse(string encoded)
    {
        ArgumentNullException.ThrowIfNull(encoded);
        string[] fields = encoded.Split('$');
        if (fields.Length < 4 || fields[0].Length != 0)
        {
            throw new MalformedInputException("A password hash is a PHC string: $id$params$salt$hash.");
        }
        (PasswordKdfParameters parameters, int used) = PasswordKdfParameters.Parse(fields[1], fields.AsSpan(2));
        if (fields.Length != 2 + used + 2)
        {
            throw new MalformedInputException("A password hash is a PHC string: $id$params$salt$hash.");
        }
        byte[] salt = FromB64(fields[^2]);
        byte[] hash = FromB64(fields[^1]);
        if (salt.Length is < PasswordKdf.MinSaltSize or > PasswordKdf.MaxSaltSize || hash.Length is < 16 or > 64)
        {
            throw new MalformedInputException("A password hash's salt or hash has an unexpected length.");
        }
        return (parameters, salt, hash);
    }

    internal static string ToB64(ReadOnlySpan<byte> bytes) => Convert.ToBase64String(bytes).TrimEnd('=');

    internal static byte[] FromB64(string text)
    {
        if (text.Length == 0 || text.Contains('=', StringComparison.Ordinal) || text.Length % 4 == 1)
        {
            throw new MalformedInputException("A PHC field is base64 without padding.");
        }
        try
        {
            return Convert.FromBase64String(text + new string('=', (4 - text.Length % 4) % 4));
        }
        catch (FormatException)
        {
            throw new MalformedInputException("A PHC field is base64 without padding.");
        }
    }
}
