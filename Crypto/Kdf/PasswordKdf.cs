using System.Security.Cryptography;
using Konscious.Security.Cryptography;

namespace Pii.Crypto.Kdf;

/// <summary>
/// Derives key bytes from a secret a person supplies (a passphrase): PBKDF2-HMAC-SHA256 through the base library
/// (<see cref="Rfc2898DeriveBytes.Pbkdf2(ReadOnlySpan{byte}, ReadOnlySpan{byte}, int, HashAlgorithmName, int)"/>) or
/// Argon2id through Konscious.Security.Cryptography.Argon2. Salts are random, at least 16 bytes, and stored with the
/// parameters beside the output.
/// </summary>
public static class PasswordKdf
{
    public const int SaltSize = 16;
    public const int MinSaltSize = 8;
    public const int MaxSaltSize = 64;
    public const int MaxPasswordBytes = 4096;

    /// <summary>Derives <paramref name="length"/> bytes (4 to 1024).</summary>
    public static byte[] DeriveKey(PasswordKdfParameters parameters, ReadOnlySpan<byte> password, ReadOnlySpan<byte> salt, int length) =>
        DeriveKey(parameters, password, salt, length, secret: [], associatedData: []);

    /// <summary>
    /// As <see cref="DeriveKey(PasswordKdfParameters, ReadOnlySpan{byte}, ReadOnlySpan{byte}, int)"/>, with Argon2's optional
    /// secret (K) and associated data (X) inputs, which RFC 9106's test vector uses; PBKDF2 has neither.
    /// </summary>
    internal static byte[] DeriveKey(PasswordKdfParameters parameters, ReadOnlySpan<byte> password, ReadOnlySpan<byte> salt, int length,
        ReadOnlySpan<byte> secret, ReadOnlySpan<byte> associatedData)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 4);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, 1024);
        if (password.IsEmpty || password.Length > MaxPasswordBytes)
        {
            throw new MalformedInputException($"A passphrase is 1 to {MaxPasswordBytes} bytes.");
        }
        // Stored salts are 8 to 64 bytes (checked where they are parsed); PBKDF2's published vectors use 4-byte salts,
        // while Argon2 itself requires at least 8 (RFC 9106 section 3.1).
        int minSalt = parameters.Algorithm == PasswordKdfAlgorithm.Argon2id ? MinSaltSize : 1;
        if (salt.Length < minSalt || salt.Length > MaxSaltSize)
        {
            throw new MalformedInputException($"A password-KDF salt is {minSalt} to {MaxSaltSize} bytes.");
        }
        if (parameters.Algorithm == PasswordKdfAlgorithm.Pbkdf2Sha256)
        {
            if (!secret.IsEmpty || !associatedData.IsEmpty)
            {
                throw new ArgumentException("PBKDF2 takes no secret or associated data.");
            }
            return Rfc2898DeriveBytes.Pbkdf2(password, salt, parameters.Iterations, HashAlgorithmName.SHA256, length);
        }

        byte[] passwordCopy = password.ToArray();
        try
        {
            using var argon2 = new Argon2id(passwordCopy)
            {
                Salt = salt.ToArray(),
                MemorySize = parameters.MemoryKiB,
                Iterations = parameters.Iterations,
                DegreeOfParallelism = parameters.Parallelism,
                KnownSecret = secret.IsEmpty ? null : secret.ToArray(),
                AssociatedData = associatedData.IsEmpty ? null : associatedData.ToArray(),
            };
            return argon2.GetBytes(length);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(passwordCopy);
        }
    }
}
