using Microsoft.EntityFrameworkCore;
using Pii.Crypto.Keys;

namespace Pii.EntityFrameworkCore.Keys;

/// <summary>
/// <see cref="IDekStore"/> on the <c>pii_data_keys</c> table, through a context of its own built from the options the
/// application gives (the same database as its data, normally). Races between instances are settled by the database:
/// the unique index on <c>active_purpose</c> for creation, row locks for use counts.
/// </summary>
internal sealed class EfDekStore(DbContextOptions<PiiKeyDbContext> options) : IDekStore
{
    public PiiKeyDbContext CreateContext() => new(options);

    public async Task<DekRecord> InsertIfNoActiveAsync(string purpose, WrappedDek wrapped, DateTimeOffset createdAt, CancellationToken cancellationToken = default)
    {
        await using (var context = CreateContext())
        {
            context.DataKeys.Add(new PiiDataKey
            {
                Purpose = purpose,
                ActivePurpose = purpose,
                KekName = wrapped.KekName,
                KekVersion = wrapped.KekVersion,
                Ciphertext = wrapped.Ciphertext,
                CreatedAt = createdAt.ToUniversalTime(),
            });
            try
            {
                await context.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (DbUpdateException)
            {
                // Another instance made the active DEK first (the unique index refused ours): theirs is the one to use,
                // and when there is none the insert failed for another reason.
                if (await GetActiveAsync(purpose, cancellationToken).ConfigureAwait(false) is null)
                {
                    throw;
                }
            }
        }
        return await GetActiveAsync(purpose, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException("No active DEK after insert.");
    }

    public async Task<DekRecord?> GetAsync(int id, CancellationToken cancellationToken = default)
    {
        await using var context = CreateContext();
        var row = await context.DataKeys.AsNoTracking().SingleOrDefaultAsync(k => k.Id == id, cancellationToken).ConfigureAwait(false);
        return row is null ? null : ToRecord(row);
    }

    public async Task<DekRecord?> GetActiveAsync(string purpose, CancellationToken cancellationToken = default)
    {
        await using var context = CreateContext();
        var row = await context.DataKeys.AsNoTracking().SingleOrDefaultAsync(k => k.ActivePurpose == purpose, cancellationToken).ConfigureAwait(false);
        return row is null ? null : ToRecord(row);
    }

    public async Task RetireAsync(int id, DateTimeOffset retiredAt, CancellationToken cancellationToken = default)
    {
        await using var context = CreateContext();
        var at = retiredAt.ToUniversalTime();
        await context.DataKeys.Where(k => k.Id == id && k.RetiredAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(k => k.RetiredAt, at).SetProperty(k => k.ActivePurpose, (string?)null), cancellationToken)
            .ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<DekRecord>> ListAsync(CancellationToken cancellationToken = default)
    {
        await using var context = CreateContext();
        var rows = await context.DataKeys.AsNoTracking().OrderBy(k => k.Id).ToListAsync(cancellationToken).ConfigureAwait(false);
        return [.. rows.Select(ToRecord)];
    }

    public async Task<long> AddUsesAsync(int id, long count, CancellationToken cancellationToken = default)
    {
        await using var context = CreateContext();
        // The UPDATE holds the row lock until commit, so the total read back is exactly this reservation's.
        await using var transaction = await context.Database.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        int changed = await context.DataKeys.Where(k => k.Id == id)
            .ExecuteUpdateAsync(s => s.SetProperty(k => k.UseCount, k => k.UseCount + count), cancellationToken).ConfigureAwait(false);
        if (changed == 0)
        {
            throw new Pii.Crypto.UnknownKeyException("No DEK with this id.");
        }
        long total = await context.DataKeys.Where(k => k.Id == id).Select(k => k.UseCount).SingleAsync(cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return total;
    }

    public async Task UpdateWrappedAsync(int id, WrappedDek wrapped, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(wrapped);
        await using var context = CreateContext();
        await context.DataKeys.Where(k => k.Id == id)
            .ExecuteUpdateAsync(s => s.SetProperty(k => k.KekName, wrapped.KekName).SetProperty(k => k.KekVersion, wrapped.KekVersion)
                .SetProperty(k => k.Ciphertext, wrapped.Ciphertext), cancellationToken)
            .ConfigureAwait(false);
    }

    private static DekRecord ToRecord(PiiDataKey row) =>
        new(row.Id, row.Purpose, new WrappedDek(row.KekName, row.KekVersion, row.Ciphertext), row.CreatedAt, row.RetiredAt, row.UseCount);
}
