namespace Pii.Crypto.Streams.Keyrings;

/// <summary>
/// One EDK entry of a message header: provider ID (the key namespace for raw keyrings), provider info
/// (keyring-specific bytes) and the wrapped data key. Each field is at most 65 535 bytes on the wire.
/// </summary>
public sealed class EncryptedDataKey
{
    public EncryptedDataKey(string providerId, byte[] providerInfo, byte[] ciphertext)
    {
        ArgumentNullException.ThrowIfNull(providerId);
        ArgumentNullException.ThrowIfNull(providerInfo);
        ArgumentNullException.ThrowIfNull(ciphertext);
        ProviderId = providerId;
        ProviderInfo = providerInfo;
        Ciphertext = ciphertext;
    }

    public string ProviderId { get; }

    public ReadOnlyMemory<byte> ProviderInfo { get; }

    public ReadOnlyMemory<byte> Ciphertext { get; }
}
