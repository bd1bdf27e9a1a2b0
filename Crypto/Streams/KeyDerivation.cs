// Key schedule of algorithm suite 0x0478 (AES_256_GCM_HKDF_SHA512_COMMIT_KEY):
//   PRK            = HKDF-Extract(SHA-512, salt = message ID (32 bytes), IKM = 32-byte data key)
//   encryption key = HKDF-Expand(PRK, info = 04 78 || "DERIVEKEY", 32)   -- header tag and every frame
//   commit key     = HKDF-Expand(PRK, info = "COMMITKEY", 32)            -- header field 10 (suite data)
// The commit key binds the data key to the message ID, so one ciphertext cannot decrypt under two keys.
using System.Security.Cryptography;

namespace Pii.Crypto.Streams;

internal static class KeyDerivation
{
    public const int DataKeyLength = 32;
    public const int CommitKeyLength = 32;

    private static readonly byte[] DeriveKeyInfo = [0x04, 0x78, .. "DERIVEKEY"u8];

    private static ReadOnlySpan<byte> CommitKeyInfo => "COMMITKEY"u8;

    public static void DeriveCommitKey(ReadOnlySpan<byte> dataKey, ReadOnlySpan<byte> messageId, Span<byte> commitKey) =>
        Expand(dataKey, messageId, CommitKeyInfo, commitKey);

    public static void DeriveEncryptionKey(ReadOnlySpan<byte> dataKey, ReadOnlySpan<byte> messageId, Span<byte> encryptionKey) =>
        Expand(dataKey, messageId, DeriveKeyInfo, encryptionKey);

    private static void Expand(ReadOnlySpan<byte> dataKey, ReadOnlySpan<byte> messageId, ReadOnlySpan<byte> info, Span<byte> output)
    {
        if (dataKey.Length != DataKeyLength)
        {
            throw new ArgumentException("The data key must be 32 bytes.", nameof(dataKey));
        }
        Span<byte> prk = stackalloc byte[64];
        try
        {
            HKDF.Extract(HashAlgorithmName.SHA512, dataKey, messageId, prk);
            HKDF.Expand(HashAlgorithmName.SHA512, prk, output, info);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(prk);
        }
    }
}
