// Raw AES keyring (AWS Encryption SDK framework/raw-aes-keyring.md), AES-256-GCM wrapping:
//   provider ID   = UTF-8 key namespace
//   provider info = UTF-8 key name || u32 tag length in bits (0x00000080) || u32 IV length (0x0000000C) || 12-byte IV
//   ciphertext    = AES-GCM(wrapping key, IV, data key (32), AAD = encryption context serialization) || tag (16)
//                   = 48 bytes
// The AAD is the context serialization without the header's u16 length prefix (empty context => empty AAD), so an
// altered context makes the unwrap fail.
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Pii.Crypto.Streams.Keyrings;

public sealed class RawAesKeyring : IKeyring, IDisposable
{
    private const int IvLength = 12;
    private const int TagLength = 16;
    private const int WrappedLength = 32 + TagLength;

    private readonly string keyNamespace;
    private readonly byte[] keyName;
    private readonly AesGcm wrappingCipher;

    // One keyring may serve many messages at once (a service singleton); AesGcm is not safe for concurrent use.
    private readonly Lock cipherLock = new();

    /// <param name="keyNamespace">Provider ID written to the EDK; must not be <c>aws-kms</c>.</param>
    /// <param name="keyName">Key name written at the start of the provider info.</param>
    /// <param name="wrappingKey">The 32-byte AES-256 wrapping key (copied; the caller zeroes its own copy).</param>
    public RawAesKeyring(string keyNamespace, string keyName, ReadOnlySpan<byte> wrappingKey)
    {
        ArgumentException.ThrowIfNullOrEmpty(keyNamespace);
        ArgumentException.ThrowIfNullOrEmpty(keyName);
        if (keyNamespace == "aws-kms")
        {
            throw new ArgumentException("The key namespace aws-kms is reserved.", nameof(keyNamespace));
        }
        if (wrappingKey.Length != 32)
        {
            throw new ArgumentException("The raw AES keyring takes a 32-byte (AES-256) wrapping key.", nameof(wrappingKey));
        }
        this.keyNamespace = keyNamespace;
        this.keyName = Encoding.UTF8.GetBytes(keyName);
        wrappingCipher = new AesGcm(wrappingKey, TagLength);
    }

    public Task<GeneratedDataKey> GenerateDataKeyAsync(IReadOnlyDictionary<string, string> encryptionContext, CancellationToken cancellationToken) =>
        GeneratedDataKey.GenerateAndWrapAsync(this, encryptionContext, cancellationToken);

    public Task<IReadOnlyList<EncryptedDataKey>> WrapDataKeyAsync(
        ReadOnlyMemory<byte> dataKey, IReadOnlyDictionary<string, string> encryptionContext, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(encryptionContext);
        var aad = EncryptionContextSerializer.Serialize(encryptionContext);
        var providerInfo = new byte[keyName.Length + 8 + IvLength];
        keyName.CopyTo(providerInfo, 0);
        BinaryPrimitives.WriteUInt32BigEndian(providerInfo.AsSpan(keyName.Length), TagLength * 8);
        BinaryPrimitives.WriteUInt32BigEndian(providerInfo.AsSpan(keyName.Length + 4), IvLength);
        var iv = providerInfo.AsSpan(keyName.Length + 8);
        RandomNumberGenerator.Fill(iv);

        var wrapped = new byte[WrappedLength];
        lock (cipherLock)
        {
            wrappingCipher.Encrypt(iv, dataKey.Span, wrapped.AsSpan(0, 32), wrapped.AsSpan(32), aad);
        }
        IReadOnlyList<EncryptedDataKey> edks = [new EncryptedDataKey(keyNamespace, providerInfo, wrapped)];
        return Task.FromResult(edks);
    }

    public Task<byte[]?> UnwrapDataKeyAsync(
        IReadOnlyList<EncryptedDataKey> encryptedDataKeys, IReadOnlyDictionary<string, string> encryptionContext, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(encryptedDataKeys);
        ArgumentNullException.ThrowIfNull(encryptionContext);
        byte[]? aad = null;
        foreach (var edk in encryptedDataKeys)
        {
            if (!IsOurs(edk))
            {
                continue;
            }
            aad ??= EncryptionContextSerializer.Serialize(encryptionContext);
            var iv = edk.ProviderInfo.Span[(keyName.Length + 8)..];
            var wrapped = edk.Ciphertext.Span;
            var dataKey = new byte[32];
            try
            {
                lock (cipherLock)
                {
                    wrappingCipher.Decrypt(iv, wrapped[..32], wrapped[32..], dataKey, aad);
                }
                return Task.FromResult<byte[]?>(dataKey);
            }
            catch (AuthenticationTagMismatchException)
            {
                // Wrong key under the same name, or an altered EDK/context: try the next EDK, as the ESDKs do.
            }
        }
        return Task.FromResult<byte[]?>(null);
    }

    public void Dispose()
    {
        lock (cipherLock)
        {
            wrappingCipher.Dispose();
        }
    }

    private bool IsOurs(EncryptedDataKey edk)
    {
        var info = edk.ProviderInfo.Span;
        return edk.ProviderId == keyNamespace
            && edk.Ciphertext.Length == WrappedLength
            && info.Length == keyName.Length + 8 + IvLength
            && info.StartsWith(keyName)
            && BinaryPrimitives.ReadUInt32BigEndian(info[keyName.Length..]) == TagLength * 8
            && BinaryPrimitives.ReadUInt32BigEndian(info[(keyName.Length + 4)..]) == IvLength;
    }
}
