// Transit keyring: the data key is wrapped by the key service (Vault Transit encrypt/decrypt on one named key).
//   provider ID   = UTF-8 "pii-transit"
//   provider info = UTF-8 transit key name (e.g. "documents")
//   ciphertext    = UTF-8 of the key service's ciphertext string "vault:vN:<base64>" (at most 65 535 bytes)
// The data key is made here by the CSPRNG and sent to transit/encrypt with associated_data = the encryption context
// serialization (STREAM-FORMAT.md §2.1; omitted when the context is empty), so, as with the raw AES keyring, an
// altered context in the header makes the unwrap fail inside the key service.
using System.Security.Cryptography;
using System.Text;
using Pii.Crypto.Streams.Keyrings;
using Pii.Crypto.Transit;

namespace Pii.Crypto.Streams;

public sealed class TransitKeyring : IKeyring
{
    public const string ProviderId = "pii-transit";

    private const int MaxCiphertextLength = ushort.MaxValue;

    private readonly TransitClient client;
    private readonly string keyName;
    private readonly byte[] providerInfo;

    public TransitKeyring(TransitClient client, string keyName)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentException.ThrowIfNullOrEmpty(keyName);
        this.client = client;
        this.keyName = keyName;
        providerInfo = Encoding.UTF8.GetBytes(keyName);
    }

    public string KeyName => keyName;

    public Task<GeneratedDataKey> GenerateDataKeyAsync(IReadOnlyDictionary<string, string> encryptionContext, CancellationToken cancellationToken) =>
        GeneratedDataKey.GenerateAndWrapAsync(this, encryptionContext, cancellationToken);

    public async Task<IReadOnlyList<EncryptedDataKey>> WrapDataKeyAsync(
        ReadOnlyMemory<byte> dataKey, IReadOnlyDictionary<string, string> encryptionContext, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(encryptionContext);
        var wrapped = await client.EncryptAsync(keyName, dataKey, associatedData: AssociatedData(encryptionContext), cancellationToken: cancellationToken)
            .ConfigureAwait(false);
        var ciphertext = Encoding.UTF8.GetBytes(wrapped.Ciphertext);
        if (ciphertext.Length > MaxCiphertextLength)
        {
            throw new MalformedInputException("The key service returned a wrapped key longer than an EDK may hold.");
        }
        return [new EncryptedDataKey(ProviderId, providerInfo.ToArray(), ciphertext)];
    }

    /// <summary>
    /// Tries each EDK of this provider and key name. A key-service refusal of one EDK (400: tampered, wrong context,
    /// malformed, version gone) means "not this one"; an unreachable, forbidding or failing key service propagates so
    /// callers can tell "unavailable" (503) from "not for these keys".
    /// </summary>
    public async Task<byte[]?> UnwrapDataKeyAsync(
        IReadOnlyList<EncryptedDataKey> encryptedDataKeys, IReadOnlyDictionary<string, string> encryptionContext, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(encryptedDataKeys);
        ArgumentNullException.ThrowIfNull(encryptionContext);
        var associatedData = AssociatedData(encryptionContext);
        foreach (var edk in encryptedDataKeys)
        {
            if (edk.ProviderId != ProviderId || !edk.ProviderInfo.Span.SequenceEqual(providerInfo))
            {
                continue;
            }
            string ciphertext;
            try
            {
                ciphertext = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(edk.Ciphertext.Span);
            }
            catch (DecoderFallbackException)
            {
                continue;
            }
            if (!ciphertext.StartsWith("vault:v", StringComparison.Ordinal))
            {
                continue;
            }
            byte[] dataKey;
            try
            {
                dataKey = await client.DecryptAsync(keyName, ciphertext, associatedData: associatedData, cancellationToken: cancellationToken)
                    .ConfigureAwait(false);
            }
            catch (Exception e) when (e is TransitRequestException or TamperedException or MalformedInputException or UnknownKeyException)
            {
                continue;
            }
            if (dataKey.Length == 32)
            {
                return dataKey;
            }
            CryptographicOperations.ZeroMemory(dataKey);
        }
        return null;
    }

    private static byte[]? AssociatedData(IReadOnlyDictionary<string, string> encryptionContext) =>
        encryptionContext.Count == 0 ? null : EncryptionContextSerializer.Serialize(encryptionContext);
}
