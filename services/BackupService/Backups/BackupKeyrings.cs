using Microsoft.Extensions.Options;
using Pii.Crypto.Streams;
using Pii.Crypto.Streams.Keyrings;
using Pii.Crypto.Transit;

namespace Pii.BackupService.Backups;

/// <summary>The transit key <c>backups</c> (generate, and unwrap for verify/restore) and the recovery public key (wrap only).</summary>
internal sealed class BackupKeyrings : IDisposable
{
    public const string TransitKeyName = "backups";
    public const string RecoveryProvider = "pii-recovery";

    private readonly RawRsaKeyring _recovery;

    public BackupKeyrings(TransitClient transit, IOptions<BackupOptions> options)
    {
        var o = options.Value;
        if (o.RecoveryPublicKeyFile is not { Length: > 0 } file)
        {
            throw new InvalidOperationException("BackupService__RecoveryPublicKeyFile is not set: every backup must also be wrapped for the offline recovery key.");
        }
        RecoveryKeyName = o.RecoveryKeyName;
        _recovery = RawRsaKeyring.FromPem(RecoveryProvider, o.RecoveryKeyName, File.ReadAllText(file), null);
        Transit = new TransitKeyring(transit, TransitKeyName);
    }

    public TransitKeyring Transit { get; }

    public string RecoveryKeyName { get; }

    /// <summary>
    /// A fresh keyring for one backup: transit + recovery, or recovery only for a store the transit key depends on
    /// (<paramref name="recoveryOnly"/>) — and as the fallback when the key service is down.
    /// </summary>
    public RecoveryFallbackKeyring ForBackup(bool recoveryOnly) => new(recoveryOnly ? null : Transit, _recovery);

    public IReadOnlyList<KeyReference> References(bool recoveryOnly) => recoveryOnly
        ? [new KeyReference(RecoveryProvider, RecoveryKeyName)]
        : [new KeyReference(TransitKeyring.ProviderId, TransitKeyName), new KeyReference(RecoveryProvider, RecoveryKeyName)];

    public void Dispose() => _recovery.Dispose();
}
