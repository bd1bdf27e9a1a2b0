using System.Security.Cryptography;
using System.Text;

namespace Pii.Crypto.Kdf;

/// <summary>
/// A key (or any small secret: the recovery private key, an exported transit backup) sealed under a passphrase, for
/// keeping offline. AES-256-GCM under a key derived from the passphrase with Argon2id or PBKDF2-HMAC-SHA256; the
/// header, which carries the KDF parameters and salt, is the associated data, so neither can be changed unnoticed.
/// </summary>
/// <remarks>
/// Layout: three lines of ASCII text, each ending in LF:
/// <code>
/// PII-PROTECTED-KEY v1
/// $argon2id$v=19$m=65536,t=2,p=1$SALT          (or $pbkdf2-sha256$i=600000$SALT)
/// BASE64(nonce[12] ‖ ciphertext ‖ tag[16])
/// </code>
/// SALT is 16 random bytes in base64 without padding (the PHC parameter syntax of <see cref="PasswordHash"/>); the
/// third line is standard base64 with padding. AAD = the first two lines' exact bytes, both LFs included; the
/// AES-256-GCM key is the 32-byte KDF output; the nonce is random. The payload is at most <see cref="MaxPayloadBytes"/>.
/// A wrong passphrase and an altered file are the same failure (<see cref="TamperedException"/>): GCM cannot tell them apart.
/// </remarks>
public static class ProtectedKeyFile
{
    public const string Magic = "PII-PROTECTED-KEY v1";
    public const int MaxPayloadBytes = 1 << 20;
    private const int NonceSize = 12;
    private const int TagSize = 16;

    /// <summary>Seals <paramref name="payload"/> under <paramref name="passphrase"/>; returns the file's bytes.</summary>
    public static byte[] Protect(ReadOnlySpan<byte> payload, ReadOnlySpan<byte> passphrase, PasswordKdfParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        CheckPassphrase(passphrase);
        if (payload.Length > MaxPayloadBytes)
        {
            throw new MalformedInputException($"A protected key file holds at most {MaxPayloadBytes} bytes.");
        }
        byte[] salt = RandomNumberGenerator.GetBytes(PasswordKdf.SaltSize);
        byte[] header = Encoding.ASCII.GetBytes($"{Magic}\n{parameters}${PasswordHash.ToB64(salt)}\n");
        byte[] key = PasswordKdf.DeriveKey(parameters, passphrase, salt, 32);
        byte[] sealedBytes = new byte[NonceSize + payload.Length + TagSize];
        try
        {
            RandomNumberGenerator.Fill(sealedBytes.AsSpan(0, NonceSize));
            using var gcm = new AesGcm(key, TagSize);
            gcm.Encrypt(sealedBytes.AsSpan(0, NonceSize), payload, sealedBytes.AsSpan(NonceSize, payload.Length),
                sealedBytes.AsSpan(NonceSize + payload.Length), header);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
        }
        return [.. header, .. Encoding.ASCII.GetBytes(Convert.ToBase64String(sealedBytes) + "\n")];
    }

    /// <summary>Opens a file made by <see cref="Protect"/>.</summary>
    /// <exception cref="TamperedException">Wrong passphrase, or the file was altered.</exception>
    /// <exception cref="MalformedInputException">Not a protected key file, or its parameters are out of bounds.</exception>
    /// <exception cref="UnsupportedVersionException">A format version or KDF this build does not read.</exception>
    public static byte[] Unprotect(ReadOnlySpan<byte> file, ReadOnlySpan<byte> passphrase)
    {
        CheckPassphrase(passphrase);
        (byte[] header, PasswordKdfParameters parameters, byte[] salt, byte[] sealedBytes) = Parse(file);
        byte[] key = PasswordKdf.DeriveKey(parameters, passphrase, salt, 32);
        byte[] payload = new byte[sealedBytes.Length - NonceSize - TagSize];
        try
        {
            using var gcm = new AesGcm(key, TagSize);
            gcm.Decrypt(sealedBytes.AsSpan(0, NonceSize), sealedBytes.AsSpan(NonceSize, payload.Length),
                sealedBytes.AsSpan(NonceSize + payload.Length), payload, header);
            return payload;
        }
        catch (AuthenticationTagMismatchException e)
        {
            throw new TamperedException("The passphrase is wrong or the protected key file was altered.", e);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
        }
    }

    /// <summary>The KDF parameters a file was sealed with (to decide whether to re-protect it under stronger ones).</summary>
    public static PasswordKdfParameters ReadParameters(ReadOnlySpan<byte> file) => Parse(file).Parameters;

    private static (byte[] Header, PasswordKdfParameters Parameters, byte[] Salt, byte[] Sealed) Parse(ReadOnlySpan<byte> file)
    {
        if (file.Length > 2 * MaxPayloadBytes)
        {
            throw new MalformedInputException("The input is too large to be a protected key file.");
        }
        int first = file.IndexOf((byte)'\n');
        if (first < 0 || !file[..first].SequenceEqual(Encoding.ASCII.GetBytes(Magic)))
        {
            if (first > 0 && file[..first].StartsWith("PII-PROTECTED-KEY "u8))
            {
                throw new UnsupportedVersionException("The protected key file's version is not one this build reads.");
            }
            throw new MalformedInputException($"Not a protected key file (the first line is not '{Magic}').");
        }
        int second = file[(first + 1)..].IndexOf((byte)'\n');
        if (second < 0)
        {
            throw new MalformedInputException("A protected key file has three lines.");
        }
        int headerLength = first + 1 + second + 1;
        ReadOnlySpan<byte> body = file[headerLength..];
        if (body.Length == 0 || body[^1] != '\n' || body[..^1].Contains((byte)'\n'))
        {
            throw new MalformedInputException("A protected key file has three lines.");
        }
        string kdfLine = DecodeAscii(file.Slice(first + 1, second));
        string[] fields = kdfLine.Split('$');
        if (fields.Length < 4 || fields[0].Length != 0)
        {
            throw new MalformedInputException("A protected key file's second line is $kdf$params$salt.");
        }
        (PasswordKdfParameters parameters, int used) = PasswordKdfParameters.Parse(fields[1], fields.AsSpan(2));
        if (fields.Length != 2 + used + 1)
        {
            throw new MalformedInputException("A protected key file's second line is $kdf$params$salt.");
        }
        byte[] salt = PasswordHash.FromB64(fields[^1]);
        if (salt.Length is < PasswordKdf.MinSaltSize or > PasswordKdf.MaxSaltSize)
        {
            throw new MalformedInputException("A protected key file's salt has an unexpected length.");
        }
        byte[] sealedBytes;
        try
        {
            sealedBytes = Convert.FromBase64String(DecodeAscii(body[..^1]));
        }
        catch (FormatException)
        {
            throw new MalformedInputException("A protected key file's third line is not base64.");
        }
        if (sealedBytes.Length < NonceSize + TagSize)
        {
            throw new TruncatedException("The protected key file's sealed payload is shorter than a nonce and a tag.");
        }
        return (file[..headerLength].ToArray(), parameters, salt, sealedBytes);
    }

    private static string DecodeAscii(ReadOnlySpan<byte> bytes)
    {
        foreach (byte b in bytes)
        {
            if (b is < 0x20 or > 0x7e)
            {
                throw new MalformedInputException("A protected key file is printable ASCII.");
            }
        }
        return Encoding.ASCII.GetString(bytes);
    }

    private static void CheckPassphrase(ReadOnlySpan<byte> passphrase)
    {
        if (passphrase.IsEmpty)
        {
            throw new MalformedInputException("The passphrase is empty.");
        }
    }
}
