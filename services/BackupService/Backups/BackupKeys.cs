using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace Pii.BackupService.Backups;

/// <summary>
/// Keys derived (HKDF-SHA256, one info label each) from the service's manifest key (<c>BackupService:ManifestKey</c>
/// or <c>ManifestKeyFile</c>, 32 bytes base64): the MAC of manifests, failure records, audit entries and erasure-ledger
/// entries, and the key of each backup's plaintext hash (the hash also binds the backup id). The manifest key lives
/// outside the backups and outside the key service, so a manifest can be checked while the key service is down.
/// </summary>
internal sealed class BackupKeys : IDisposable
{
    private readonly byte[] _macKey = GC.AllocateArray<byte>(32, pinned: true);
    private readonly byte[] _hashKey = GC.AllocateArray<byte>(32, pinned: true);

    public BackupKeys(IOptions<BackupOptions> options)
    {
        var root = Load(options.Value);
        try
        {
            HKDF.DeriveKey(HashAlgorithmName.SHA256, root, _macKey, salt: default, "PiiAspire/backups/v1/record-mac"u8);
            HKDF.DeriveKey(HashAlgorithmName.SHA256, root, _hashKey, salt: default, "PiiAspire/backups/v1/plaintext-hash"u8);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(root);
        }
    }

    /// <summary>HMAC-SHA256 over a record, domain-separated by <paramref name="kind"/> (manifest, attempt, erasure, audit).</summary>
    public byte[] Mac(string kind, ReadOnlySpan<byte> content)
    {
        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, _macKey);
        hmac.AppendData(Encoding.UTF8.GetBytes(kind + "\n"));
        hmac.AppendData(content);
        return hmac.GetHashAndReset();
    }

    public bool Verify(string kind, ReadOnlySpan<byte> content, ReadOnlySpan<byte> mac) =>
        CryptographicOperations.FixedTimeEquals(Mac(kind, content), mac);

    /// <summary>The keyed hash of one backup's dump bytes: HMAC-SHA256 keyed per service, bound to the backup id.</summary>
    public IncrementalHash CreatePlaintextHash(Guid backupId)
    {
        var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, _hashKey);
        hmac.AppendData(backupId.ToByteArray(bigEndian: true));
        return hmac;
    }

    private static byte[] Load(BackupOptions options)
    {
        var text = options.ManifestKey;
        if (string.IsNullOrEmpty(text) && options.ManifestKeyFile is { Length: > 0 } file) text = File.ReadAllText(file).Trim();
        if (string.IsNullOrEmpty(text))
        {
            throw new InvalidOperationException("The manifest key is not configured: set BackupService__ManifestKey or BackupService__ManifestKeyFile (32 bytes, base64).");
        }
        var key = Convert.FromBase64String(text);
        if (key.Length != 32)
        {
            CryptographicOperations.ZeroMemory(key);
            throw new InvalidOperationException("The manifest key must be 32 bytes.");
        }
        return key;
    }

    public void Dispose()
    {
        CryptographicOperations.ZeroMemory(_macKey);
        CryptographicOperations.ZeroMemory(_hashKey);
    }
}
