namespace Pii.Crypto.Streams.Keyrings;

/// <summary>
/// Wraps and unwraps the per-message data key of a stream (AWS Encryption SDK keyring model). Async because a
/// keyring may call a key service. The encryption context is passed so keyrings can bind it (raw AES does).
/// </summary>
public interface IKeyring
{
    /// <summary>Makes a fresh 32-byte data key and returns it with this keyring's encrypted data key(s).</summary>
    Task<GeneratedDataKey> GenerateDataKeyAsync(IReadOnlyDictionary<string, string> encryptionContext, CancellationToken cancellationToken);

    /// <summary>Encrypts an existing data key (this keyring is not the generator) and returns its EDK(s).</summary>
    Task<IReadOnlyList<EncryptedDataKey>> WrapDataKeyAsync(
        ReadOnlyMemory<byte> dataKey, IReadOnlyDictionary<string, string> encryptionContext, CancellationToken cancellationToken);

    /// <summary>
    /// Returns the plaintext data key from the first EDK this keyring can open, or null when none is for it or none
    /// opens. The caller zeroes the returned array.
    /// </summary>
    Task<byte[]?> UnwrapDataKeyAsync(
        IReadOnlyList<EncryptedDataKey> encryptedDataKeys, IReadOnlyDictionary<string, string> encryptionContext, CancellationToken cancellationToken);
}
