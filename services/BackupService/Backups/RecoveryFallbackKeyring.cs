using Pii.Crypto.Streams.Keyrings;
using Pii.Crypto.Transit;

namespace Pii.BackupService.Backups;

/// <summary>
/// The keyring of one backup: the key service's transit key <c>backups</c> generates the data key and the offline
/// recovery RSA key wraps it too. When the key service cannot be reached, the data key is generated here and wrapped for
/// the recovery key only (<see cref="RecoveryOnly"/>), so a scheduled backup still happens; the manifest and the API say
/// so. A key service that answers but refuses (403, 404: misconfiguration) is not "down" and fails the backup.
/// </summary>
internal sealed class RecoveryFallbackKeyring(IKeyring? transit, IKeyring recovery) : IKeyring
{
    public bool RecoveryOnly { get; private set; } = transit is null;

    /// <summary>Why the key service was not used (an exception type name), when it was not.</summary>
    public string? KeyServiceError { get; private set; }

    public async Task<GeneratedDataKey> GenerateDataKeyAsync(IReadOnlyDictionary<string, string> encryptionContext, CancellationToken cancellationToken)
    {
        if (transit is not null)
        {
            try
            {
                return await new MultiKeyring(transit, recovery).GenerateDataKeyAsync(encryptionContext, cancellationToken);
            }
            catch (Exception e) when (IsUnavailable(e, cancellationToken))
            {
                RecoveryOnly = true;
                KeyServiceError = e.GetType().Name;
            }
        }
        return await recovery.GenerateDataKeyAsync(encryptionContext, cancellationToken);
    }

    public Task<IReadOnlyList<EncryptedDataKey>> WrapDataKeyAsync(
        ReadOnlyMemory<byte> dataKey, IReadOnlyDictionary<string, string> encryptionContext, CancellationToken cancellationToken) =>
        throw new NotSupportedException("The backup keyring is always the generator.");

    public Task<byte[]?> UnwrapDataKeyAsync(
        IReadOnlyList<EncryptedDataKey> encryptedDataKeys, IReadOnlyDictionary<string, string> encryptionContext, CancellationToken cancellationToken) =>
        throw new NotSupportedException("Backups are opened with the transit keyring or, offline, with the recovery private key.");

    public static bool IsUnavailable(Exception e, CancellationToken cancellationToken) => e switch
    {
        TransitServerException or HttpRequestException or TimeoutException => true,
        OperationCanceledException => !cancellationToken.IsCancellationRequested,
        _ => e.InnerException is { } inner && IsUnavailable(inner, cancellationToken),
    };
}
