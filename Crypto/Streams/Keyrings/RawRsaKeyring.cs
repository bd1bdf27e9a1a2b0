// Raw RSA keyring (AWS Encryption SDK framework/raw-rsa-keyring.md), OAEP with SHA-256 and MGF1-SHA-256, empty label:
//   provider ID   = UTF-8 key namespace
//   provider info = UTF-8 key name (nothing else)
//   ciphertext    = RSA-OAEP(public key, 32-byte data key); as long as the modulus (256 bytes for RSA-2048)
// The RSA wrap does not bind the encryption context; for RSA-only messages the header tag protects it.
using System.Security.Cryptography;
using System.Text;

namespace Pii.Crypto.Streams.Keyrings;

public sealed class RawRsaKeyring : IKeyring, IDisposable
{
    private readonly string keyNamespace;
    private readonly byte[] keyName;
    private readonly RSA? publicKey;
    private readonly RSA? privateKey;

    // One keyring may serve many messages at once (a service singleton); RSA instances are not documented as thread-safe.
    private readonly Lock keyLock = new();

    private RawRsaKeyring(string keyNamespace, string keyName, RSA? publicKey, RSA? privateKey)
    {
        ArgumentException.ThrowIfNullOrEmpty(keyNamespace);
        ArgumentException.ThrowIfNullOrEmpty(keyName);
        this.keyNamespace = keyNamespace;
        this.keyName = Encoding.UTF8.GetBytes(keyName);
        this.publicKey = publicKey;
        this.privateKey = privateKey;
    }

    /// <summary>
    /// Builds the keyring from PEM text: <paramref name="publicKeyPem"/> is an X.509 SubjectPublicKeyInfo,
    /// <paramref name="privateKeyPem"/> a PKCS#8 private key (unencrypted PEM).
    /// At least one is required; a private key alone can also wrap (its public half is used).
    /// </summary>
    public static RawRsaKeyring FromPem(string keyNamespace, string keyName, string? publicKeyPem, string? privateKeyPem)
    {
        if (publicKeyPem is null && privateKeyPem is null)
        {
            throw new ArgumentException("A raw RSA keyring needs a public or a private key.");
        }
        RSA? publicKey = null;
        RSA? privateKey = null;
        try
        {
            if (publicKeyPem is not null)
            {
                publicKey = ImportPem(publicKeyPem, "PUBLIC KEY", (rsa, der) => rsa.ImportSubjectPublicKeyInfo(der, out _));
            }
            if (privateKeyPem is not null)
            {
                privateKey = ImportPem(privateKeyPem, "PRIVATE KEY", (rsa, der) => rsa.ImportPkcs8PrivateKey(der, out _));
            }
            return new RawRsaKeyring(keyNamespace, keyName, publicKey, privateKey);
        }
        catch
        {
            publicKey?.Dispose();
            privateKey?.Dispose();
            throw;
        }
    }

    public Task<GeneratedDataKey> GenerateDataKeyAsync(IReadOnlyDictionary<string, string> encryptionContext, CancellationToken cancellationToken) =>
        GeneratedDataKey.GenerateAndWrapAsync(this, encryptionContext, cancellationToken);

    public Task<IReadOnlyList<EncryptedDataKey>> WrapDataKeyAsync(
        ReadOnlyMemory<byte> dataKey, IReadOnlyDictionary<string, string> encryptionContext, CancellationToken cancellationToken)
    {
        var rsa = publicKey ?? privateKey!;
        byte[] wrapped;
        lock (keyLock)
        {
            wrapped = rsa.Encrypt(dataKey.Span, RSAEncryptionPadding.OaepSHA256);
        }
        IReadOnlyList<EncryptedDataKey> edks = [new EncryptedDataKey(keyNamespace, (byte[])keyName.Clone(), wrapped)];
        return Task.FromResult(edks);
    }

    public Task<byte[]?> UnwrapDataKeyAsync(
        IReadOnlyList<EncryptedDataKey> encryptedDataKeys, IReadOnlyDictionary<string, string> encryptionContext, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(encryptedDataKeys);
        if (privateKey is null)
        {
            return Task.FromResult<byte[]?>(null);
        }
        foreach (var edk in encryptedDataKeys)
        {
            if (edk.ProviderId != keyNamespace || !edk.ProviderInfo.Span.SequenceEqual(keyName))
            {
                continue;
            }
            try
            {
                byte[] dataKey;
                lock (keyLock)
                {
                    dataKey = privateKey.Decrypt(edk.Ciphertext.Span, RSAEncryptionPadding.OaepSHA256);
                }
                if (dataKey.Length == 32)
                {
                    return Task.FromResult<byte[]?>(dataKey);
                }
                CryptographicOperations.ZeroMemory(dataKey);
            }
            catch (CryptographicException)
            {
                // Another private key under the same name, or an altered EDK: try the next EDK, as the ESDKs do.
            }
        }
        return Task.FromResult<byte[]?>(null);
    }

    public void Dispose()
    {
        lock (keyLock)
        {
            publicKey?.Dispose();
            privateKey?.Dispose();
        }
    }

    private static RSA ImportPem(string pem, string label, Action<RSA, byte[]> import)
    {
        var fields = PemEncoding.Find(pem);
        if (!pem.AsSpan()[fields.Label].SequenceEqual(label))
        {
            throw new ArgumentException($"Expected a PEM block labelled {label}.");
        }
        var der = Convert.FromBase64String(pem[fields.Base64Data]);
        var rsa = RSA.Create();
        try
        {
            import(rsa, der);
            return rsa;
        }
        catch
        {
            rsa.Dispose();
            throw;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(der);
        }
    }
}
