namespace Pii.Crypto.Streams.Keyrings;

/// <summary>
/// A generator keyring that makes the data key plus child keyrings that each wrap the same key (EDK order:
/// generator first, then children, as the JS ESDK writes). Decryption tries the generator, then each child.
/// </summary>
public sealed class MultiKeyring : IKeyring
{
    private readonly IKeyring generator;
    private readonly IReadOnlyList<IKeyring> children;

    public MultiKeyring(IKeyring generator, params IReadOnlyList<IKeyring> children)
    {
        ArgumentNullException.ThrowIfNull(generator);
        ArgumentNullException.ThrowIfNull(children);
        this.generator = generator;
        this.children = children;
    }

    public async Task<GeneratedDataKey> GenerateDataKeyAsync(IReadOnlyDictionary<string, string> encryptionContext, CancellationToken cancellationToken)
    {
        var generated = await generator.GenerateDataKeyAsync(encryptionContext, cancellationToken).ConfigureAwait(false);
        try
        {
            var edks = new List<EncryptedDataKey>(generated.EncryptedDataKeys);
            foreach (var child in children)
            {
                edks.AddRange(await child.WrapDataKeyAsync(generated.PlaintextKey, encryptionContext, cancellationToken).ConfigureAwait(false));
            }
            return new GeneratedDataKey(generated.PlaintextKey.ToArray(), edks);
        }
        finally
        {
            generated.Dispose();
        }
    }

    public async Task<IReadOnlyList<EncryptedDataKey>> WrapDataKeyAsync(
        ReadOnlyMemory<byte> dataKey, IReadOnlyDictionary<string, string> encryptionContext, CancellationToken cancellationToken)
    {
        var edks = new List<EncryptedDataKey>(await generator.WrapDataKeyAsync(dataKey, encryptionContext, cancellationToken).ConfigureAwait(false));
        foreach (var child in children)
        {
            edks.AddRange(await child.WrapDataKeyAsync(dataKey, encryptionContext, cancellationToken).ConfigureAwait(false));
        }
        return edks;
    }

    public async Task<byte[]?> UnwrapDataKeyAsync(
        IReadOnlyList<EncryptedDataKey> encryptedDataKeys, IReadOnlyDictionary<string, string> encryptionContext, CancellationToken cancellationToken)
    {
        foreach (var keyring in children.Prepend(generator))
        {
            var dataKey = await keyring.UnwrapDataKeyAsync(encryptedDataKeys, encryptionContext, cancellationToken).ConfigureAwait(false);
            if (dataKey is not null)
            {
                return dataKey;
            }
        }
        return null;
    }
}
