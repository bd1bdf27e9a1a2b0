using System.Security.Cryptography;
using System.Text;

namespace Pii.Kms.Storage;

/// <summary>
/// Seals storage records under the 32-byte master key with AES-256-GCM.
/// Sealed record layout: version byte 0x01 ‖ nonce[12] ‖ ciphertext ‖ tag[16];
/// AAD = UTF-8("pii-kms:" + record id), so a sealed blob cannot be moved to another row.
/// </summary>
public sealed class MasterKeySealer : IDisposable
{
    private const byte FormatVersion = 1;
    private const int NonceSize = 12;
    private const int TagSize = 16;
    private readonly byte[] _key;

    public MasterKeySealer(byte[] masterKey)
    {
        ArgumentNullException.ThrowIfNull(masterKey);
        if (masterKey.Length != 32)
        {
            throw new ArgumentException("The master key must be 32 bytes.", nameof(masterKey));
        }

        _key = (byte[])masterKey.Clone();
    }

    public byte[] Seal(string recordId, ReadOnlySpan<byte> plaintext)
    {
        var output = new byte[1 + NonceSize + plaintext.Length + TagSize];
        output[0] = FormatVersion;
        var nonce = output.AsSpan(1, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        using var gcm = new AesGcm(_key, TagSize);
        gcm.Encrypt(nonce, plaintext, output.AsSpan(1 + NonceSize, plaintext.Length), output.AsSpan(1 + NonceSize + plaintext.Length), Aad(recordId));
        return output;
    }

    /// <summary>Opens a sealed record; <see cref="CryptographicException"/> when the master key is wrong or the record altered.</summary>
    public byte[] Open(string recordId, ReadOnlySpan<byte> sealedRecord)
    {
        if (sealedRecord.Length < 1 + NonceSize + TagSize || sealedRecord[0] != FormatVersion)
        {
            throw new CryptographicException("Sealed record is malformed.");
        }

        var length = sealedRecord.Length - 1 - NonceSize - TagSize;
        var plaintext = new byte[length];
        using var gcm = new AesGcm(_key, TagSize);
        gcm.Decrypt(sealedRecord.Slice(1, NonceSize), sealedRecord.Slice(1 + NonceSize, length), sealedRecord[(1 + NonceSize + length)..], plaintext, Aad(recordId));
        return plaintext;
    }

    public void Dispose() => CryptographicOperations.ZeroMemory(_key);

    private static byte[] Aad(string recordId) => Encoding.UTF8.GetBytes("pii-kms:" + recordId);

    /// <summary>Parses a master key given as 64 hex characters or base64 of 32 bytes.</summary>
    public static byte[] ParseMasterKey(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var trimmed = text.Trim();
        if (trimmed.Length == 64 && trimmed.All(Uri.IsHexDigit))
        {
            return Convert.FromHexString(trimmed);
        }

        var buffer = new byte[48];
        try
        {
            if (Convert.TryFromBase64String(trimmed, buffer, out var written) && written == 32)
            {
                return buffer[..32];
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(buffer);
        }

        throw new FormatException("The master key must be 32 bytes, written as 64 hex characters or base64.");
    }
}
