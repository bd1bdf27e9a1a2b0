using System.Security.Cryptography;

namespace Pii.Crypto.Streams.Keyrings;

/// <summary>A fresh data key and the EDKs that wrap it. Dispose zeroes the plaintext key.</summary>
public sealed class GeneratedDataKey : IDisposable
{
    private readonly byte[] plaintextKey;

    public GeneratedDataKey(byte[] plaintextKey, IReadOnlyList<EncryptedDataKey> encryptedDataKeys)
    {
        ArgumentNullException.ThrowIfNull(plaintextKey);
        ArgumentNullException.ThrowIfNull(encryptedDataKeys);
        if (plaintextKey.Length != 32)
        {
            throw new ArgumentException("A data key is 32 bytes.", nameof(plaintextKey));
        }
        this.plaintextKey = plaintextKey;
        EncryptedDataKeys = encryptedDataKeys;
    }

    public ReadOnlyMemory<byte> PlaintextKey => plaintextKey;

    public IReadOnlyList<EncryptedDataKey> EncryptedDataKeys { get; }

    /// <summary>Generates 32 CSPRNG bytes and wraps them with <paramref name="keyring"/>.</summary>
    public static async Task<GeneratedDataKey> GenerateAndWrapAsync(
        IKeyring keyring, IReadOnlyDictionary<string, string> encryptionContext, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(keyring);
        var key = RandomNumberGenerator.GetBytes(32);
        try
        {
            var edks = await keyring.WrapDataKeyAsync(key, encryptionContext, cancellationToken).ConfigureAwait(false);
            return new GeneratedDataKey(key, edks);
        }
        catch
        {
            CryptographicOperations.ZeroMemory(key);
            throw;
        }
    }

    public void Dispose() => CryptographicOperations.ZeroMemory(plaintextKey);
}
