namespace Pii.Crypto.Keys;

/// <summary>
/// A key-encryption key that never leaves its keeper (the key service, or the local AES-KW keyring).
/// Implementations: <c>LocalKek</c> (RFC 3394/5649 under a master key) and <c>TransitKek</c> (Vault Transit API).
/// </summary>
public interface IKeyEncryptionKey
{
    /// <summary>The KEK's name (e.g. <c>dnc</c>).</summary>
    string Name { get; }

    /// <summary>Makes a new random 32-byte DEK and returns it with its wrapped form.</summary>
    Task<GeneratedDek> GenerateDataKeyAsync(CancellationToken cancellationToken = default);

    /// <summary>Wraps caller-supplied key bytes under the KEK's current version.</summary>
    Task<WrappedDek> WrapAsync(ReadOnlyMemory<byte> dek, CancellationToken cancellationToken = default);

    /// <summary>Unwraps; throws a <c>CryptoException</c> subtype when the wrapped key is tampered or the version is gone.</summary>
    Task<byte[]> UnwrapAsync(WrappedDek wrapped, CancellationToken cancellationToken = default);

    /// <summary>Re-wraps under the KEK's latest version without exposing the DEK where the keeper supports it.</summary>
    Task<WrappedDek> RewrapAsync(WrappedDek wrapped, CancellationToken cancellationToken = default);
}
