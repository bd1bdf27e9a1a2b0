using Pii.Crypto.Keys;
using Pii.Services.Shared;

namespace Pii.DocumentService.Keys;

/// <summary>
/// The DEK age policy over <c>documents.deks</c> (one active DEK per purpose): an over-age DEK is retired and a new
/// one made at once through the <see cref="DekManager"/>, so the next write of that purpose needs no key-service round
/// trip for it. Rows stay under the DEK they were written with (it still decrypts).
/// </summary>
internal sealed class DocumentDekAgePolicy(DekManager deks, IDekStore store) : IDekAgePolicy
{
    public async Task<int> RotateCreatedBeforeAsync(DateTimeOffset createdBefore, CancellationToken cancellationToken)
    {
        int rotated = 0;
        foreach (var record in await store.ListAsync(cancellationToken))
        {
            if (record.IsActive && record.CreatedAt <= createdBefore
                && await deks.RotateIfCreatedBeforeAsync(record.Purpose, createdBefore, cancellationToken) is not null)
            {
                rotated++;
            }
        }
        return rotated;
    }

    public async Task<DateTimeOffset?> OldestActiveAsync(CancellationToken cancellationToken) =>
        (await store.ListAsync(cancellationToken)).Where(r => r.IsActive).Select(r => (DateTimeOffset?)r.CreatedAt).Min();
}
