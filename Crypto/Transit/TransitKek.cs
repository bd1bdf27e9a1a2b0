using System.Security.Cryptography;
using Pii.Crypto.Keys;

namespace Pii.Crypto.Transit;

/// <summary>How <see cref="TransitKek.GenerateDataKeyAsync"/> obtains a new DEK.</summary>
public enum TransitDataKeySource
{
    /// <summary><c>datakey/plaintext</c>: the key service makes the DEK and returns it with its wrapped form.</summary>
    KeyServicePlaintext,

    /// <summary>A local CSPRNG DEK wrapped with <c>encrypt</c> (for tokens allowed to encrypt but not to call datakey).</summary>
    LocalThenEncrypt,
}

/// <summary>
/// A KEK that lives in Vault Transit: DEKs are wrapped as <c>vault:vN:…</c> ciphertexts by the named key and
/// unwrapped by <c>decrypt</c>. Unwrapping a DEK made for another KEK name fails with <see cref="UnknownKeyException"/>
/// before any call. <see cref="GenerateWrappedOnlyAsync"/> uses <c>datakey/wrapped</c> where the policy allows it.
/// </summary>
public sealed class TransitKek(TransitClient client, string name, TransitDataKeySource source = TransitDataKeySource.KeyServicePlaintext) : IKeyEncryptionKey
{
    private const int DekBytes = 32;

    public string Name { get; } = name;

    public async Task<GeneratedDek> GenerateDataKeyAsync(CancellationToken cancellationToken = default)
    {
        if (source == TransitDataKeySource.LocalThenEncrypt)
        {
            var dek = RandomNumberGenerator.GetBytes(DekBytes);
            try
            {
                var wrapped = await WrapAsync(dek, cancellationToken).ConfigureAwait(false);
                return new GeneratedDek(dek, wrapped);
            }
            catch
            {
                CryptographicOperations.ZeroMemory(dek);
                throw;
            }
        }

        var key = await client.GenerateDataKeyAsync(Name, withPlaintext: true, bits: DekBytes * 8, cancellationToken: cancellationToken).ConfigureAwait(false);
        return new GeneratedDek(key.Plaintext!, new WrappedDek(Name, key.KeyVersion, key.Ciphertext));
    }

    /// <summary>A new DEK in wrapped form only (<c>datakey/wrapped</c>): the caller never sees its plaintext.</summary>
    public async Task<WrappedDek> GenerateWrappedOnlyAsync(CancellationToken cancellationToken = default)
    {
        var key = await client.GenerateDataKeyAsync(Name, withPlaintext: false, bits: DekBytes * 8, cancellationToken: cancellationToken).ConfigureAwait(false);
        return new WrappedDek(Name, key.KeyVersion, key.Ciphertext);
    }

    public async Task<WrappedDek> WrapAsync(ReadOnlyMemory<byte> dek, CancellationToken cancellationToken = default)
    {
        var ciphertext = await client.EncryptAsync(Name, dek, cancellationToken: cancellationToken).ConfigureAwait(false);
        return new WrappedDek(Name, ciphertext.KeyVersion, ciphertext.Ciphertext);
    }

    public Task<byte[]> UnwrapAsync(WrappedDek wrapped, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(wrapped);
        RequireOwn(wrapped);
        return client.DecryptAsync(Name, wrapped.Ciphertext, cancellationToken: cancellationToken);
    }

    public async Task<WrappedDek> RewrapAsync(WrappedDek wrapped, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(wrapped);
        RequireOwn(wrapped);
        var ciphertext = await client.RewrapAsync(Name, wrapped.Ciphertext, cancellationToken: cancellationToken).ConfigureAwait(false);
        return new WrappedDek(Name, ciphertext.KeyVersion, ciphertext.Ciphertext);
    }

    private void RequireOwn(WrappedDek wrapped)
    {
        if (!string.Equals(wrapped.KekName, Name, StringComparison.Ordinal))
        {
            throw new UnknownKeyException($"The DEK is wrapped by KEK '{wrapped.KekName}', not '{Name}'.");
        }
    }
}
