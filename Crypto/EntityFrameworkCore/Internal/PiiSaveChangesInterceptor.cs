using System.Runtime.CompilerServices;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.ChangeTracking;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Pii.Crypto.Fields;
using Pii.Crypto.Keys;

namespace Pii.EntityFrameworkCore.Internal;

/// <summary>
/// Encrypts on save. The encrypted CLR properties are not mapped, so EF Core cannot see them change: for every added,
/// modified or unchanged entry this compares each encrypted property with the snapshot taken when it was read or last
/// saved, and for new or changed values writes a fresh ciphertext (bound to table, column and the row's key) into the
/// shadow column, and the plaintext into the blind-index shadow property (its converter stores the HMAC). DEKs are
/// leased once per purpose per save. Snapshots move forward only after the save succeeded.
/// </summary>
internal sealed class PiiSaveChangesInterceptor(PiiEncryption encryption) : SaveChangesInterceptor
{
    private readonly ConditionalWeakTable<DbContext, List<PendingValue>> _pending = [];

    public override InterceptionResult<int> SavingChanges(DbContextEventData eventData, InterceptionResult<int> result)
    {
        ArgumentNullException.ThrowIfNull(eventData);
        ProtectAsync(eventData.Context!, CancellationToken.None).GetAwaiter().GetResult();
        return result;
    }

    public override async ValueTask<InterceptionResult<int>> SavingChangesAsync(DbContextEventData eventData, InterceptionResult<int> result,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(eventData);
        await ProtectAsync(eventData.Context!, cancellationToken).ConfigureAwait(false);
        return result;
    }

    public override int SavedChanges(SaveChangesCompletedEventData eventData, int result)
    {
        ArgumentNullException.ThrowIfNull(eventData);
        Commit(eventData.Context!);
        return result;
    }

    public override ValueTask<int> SavedChangesAsync(SaveChangesCompletedEventData eventData, int result, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(eventData);
        Commit(eventData.Context!);
        return ValueTask.FromResult(result);
    }

    public override void SaveChangesFailed(DbContextErrorEventData eventData)
    {
        ArgumentNullException.ThrowIfNull(eventData);
        _pending.Remove(eventData.Context!);
    }

    public override Task SaveChangesFailedAsync(DbContextErrorEventData eventData, CancellationToken cancellationToken = default)
    {
        SaveChangesFailed(eventData);
        return Task.CompletedTask;
    }

    private async Task ProtectAsync(DbContext context, CancellationToken cancellationToken)
    {
        PiiModelMap map = encryption.MapFor(context.Model);
        if (map.IsEmpty)
        {
            return;
        }
        var work = new List<PendingValue>();
        // SaveChanges detects changes right after this interceptor; the encrypted properties are compared with their
        // snapshots here, so a second full DetectChanges pass over every tracked entity would only cost time.
        bool autoDetect = context.ChangeTracker.AutoDetectChangesEnabled;
        context.ChangeTracker.AutoDetectChangesEnabled = false;
        List<EntityEntry> entries;
        try
        {
            entries = [.. context.ChangeTracker.Entries()];
        }
        finally
        {
            context.ChangeTracker.AutoDetectChangesEnabled = autoDetect;
        }
        foreach (EntityEntry entry in entries)
        {
            if (entry.State is not (EntityState.Added or EntityState.Modified or EntityState.Unchanged) || !map.TryGet(entry.Metadata, out EntityPlan plan))
            {
                continue;
            }
            encryption.Snapshots.TryGetValue(entry.Entity, out EntitySnapshot? snapshot);
            bool fresh = entry.State == EntityState.Added || snapshot is null;
            foreach (FieldPlan field in plan.Fields)
            {
                object? value = field.Get(entry.Entity);
                if (fresh || !FieldPlan.ValuesEqual(snapshot!.Values[field.Ordinal], value))
                {
                    work.Add(new PendingValue(entry, plan, field, value));
                }
                else if (field.Index is not null && entry.Property(field.Index).IsModified)
                {
                    // The column is written anyway (e.g. Update(entity)): give the converter the value, not the read-back form.
                    entry.Property(field.Index).CurrentValue = value;
                }
            }
        }
        if (work.Count == 0)
        {
            return;
        }
        foreach (var purpose in work.Where(w => w.Value is not null).GroupBy(w => w.Field.Purpose, StringComparer.Ordinal))
        {
            using FieldKeyLease lease = await encryption.Deks.LeaseEncryptionKeyAsync(purpose.Key, purpose.Count(), cancellationToken).ConfigureAwait(false);
            foreach (PendingValue pending in purpose)
            {
                string recordId = RecordId(pending);
                pending.Ciphertext = encryption.Encrypt(lease.Key, pending.Field, pending.Value!, pending.Field.Context(recordId));
                pending.DekId = lease.Key.DekId;
            }
        }
        foreach (PendingValue pending in work)
        {
            pending.Entry.Property(pending.Field.Ciphertext).CurrentValue = pending.Ciphertext;
            if (pending.Field.Index is not null)
            {
                pending.Entry.Property(pending.Field.Index).CurrentValue = pending.Value;
            }
        }
        _pending.AddOrUpdate(context, work);
    }

    private static string RecordId(PendingValue pending)
    {
        EntityEntry entry = pending.Entry;
        return pending.Plan.RecordId(property =>
        {
            PropertyEntry key = entry.Property(property);
            if (key.IsTemporary)
            {
                throw new InvalidOperationException(
                    $"{pending.Field.DisplayName} is encrypted bound to its row, so {entry.Metadata.DisplayName()} needs a key set before saving "
                    + "(a client-generated key such as a Guid), not one the database generates.");
            }
            return key.CurrentValue;
        });
    }

    private void Commit(DbContext context)
    {
        if (!_pending.TryGetValue(context, out List<PendingValue>? work))
        {
            return;
        }
        _pending.Remove(context);
        foreach (PendingValue pending in work)
        {
            EntitySnapshot snapshot = encryption.Snapshots.GetValue(pending.Entry.Entity, _ => new EntitySnapshot(pending.Plan.Fields.Length));
            snapshot.Values[pending.Field.Ordinal] = pending.Value;
            snapshot.DekIds[pending.Field.Ordinal] = pending.DekId;
        }
    }

    private sealed class PendingValue(EntityEntry entry, EntityPlan plan, FieldPlan field, object? value)
    {
        public EntityEntry Entry { get; } = entry;

        public EntityPlan Plan { get; } = plan;

        public FieldPlan Field { get; } = field;

        public object? Value { get; } = value;

        public byte[]? Ciphertext { get; set; }

        public int DekId { get; set; } = -1;
    }
}
