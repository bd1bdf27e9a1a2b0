using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace Pii.EntityFrameworkCore.Internal;

/// <summary>
/// Decrypts on materialization: reads each encrypted property's ciphertext shadow value and the row's key from the
/// value buffer, decrypts with the DEK the header names (and the application key for tier 3), sets the CLR property,
/// and records the snapshot the save interceptor compares with. A ciphertext moved from another row or column fails
/// authentication here, and the query fails with <see cref="Pii.Crypto.TamperedException"/>.
/// </summary>
internal sealed class PiiMaterializationInterceptor(PiiEncryption encryption) : IMaterializationInterceptor
{
    public object InitializedInstance(MaterializationInterceptionData materializationData, object entity)
    {
        if (!encryption.MapFor(materializationData.Context.Model).TryGet(materializationData.EntityType, out EntityPlan plan))
        {
            return entity;
        }
        string recordId = plan.RecordId(materializationData);
        var snapshot = new EntitySnapshot(plan.Fields.Length);
        foreach (FieldPlan field in plan.Fields)
        {
            byte[]? ciphertext = materializationData.GetPropertyValue<byte[]?>(field.Ciphertext);
            object? value = null;
            int dekId = -1;
            if (ciphertext is not null)
            {
                value = encryption.Decrypt(field, ciphertext, field.Context(recordId), out dekId);
            }
            field.Set(entity, value);
            snapshot.Values[field.Ordinal] = value;
            snapshot.DekIds[field.Ordinal] = dekId;
        }
        if (materializationData.QueryTrackingBehavior is not QueryTrackingBehavior.NoTracking)
        {
            // Only a tracked entity is saved by change detection; an untracked one attached later is re-encrypted whole.
            encryption.Snapshots.AddOrUpdate(entity, snapshot);
        }
        return entity;
    }
}
