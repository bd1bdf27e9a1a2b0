using System.Linq.Expressions;
using System.Reflection;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata;
using Pii.Crypto.Fields;
using Pii.Crypto.Keys;
using Pii.EntityFrameworkCore.Internal;

namespace Pii.EntityFrameworkCore.Rotation;

/// <summary>How far a rotation pass got; <see cref="LastKey"/> is the cursor to resume from.</summary>
/// <param name="LastKey">The key of the last row examined (null before the first row).</param>
/// <param name="Examined">Rows read.</param>
/// <param name="Moved">Rows re-encrypted under the active DEKs.</param>
/// <param name="Conflicts">Rows that changed between read and write (left alone: whoever changed them wrote them under an active DEK).</param>
/// <param name="Completed">True when the pass reached the end of the table.</param>
public sealed record RotationProgress(object? LastKey, long Examined, long Moved, long Conflicts, bool Completed);

/// <summary>Options of one rotation pass.</summary>
public sealed class RotationOptions
{
    /// <summary>Rows read per query (default 500).</summary>
    public int BatchSize { get; init; } = 500;

    /// <summary>Resume after this key (a <see cref="RotationProgress.LastKey"/> saved earlier); null starts at the beginning.</summary>
    public object? StartAfter { get; init; }

    /// <summary>Called after each batch, e.g. to persist <see cref="RotationProgress.LastKey"/> so a restarted job resumes there.</summary>
    public Func<RotationProgress, CancellationToken, Task>? OnBatch { get; init; }
}

/// <summary>
/// Moves rows off retired DEKs: walks one entity's table in key order, <see cref="RotationOptions.BatchSize"/> rows per
/// query, reads only the key and the ciphertext columns, and for each ciphertext whose header names a retired DEK
/// decrypts and re-encrypts it under the purpose's active DEK. Each row is written with one
/// <c>UPDATE … WHERE key = @key AND column = @old</c> (optimistic concurrency on the ciphertexts themselves): a row
/// changed meanwhile by the application or by another rotator updates nothing and is counted as a conflict, so several
/// instances may run at once and no write is lost. Resumable: pass the last <see cref="RotationProgress.LastKey"/> back
/// as <see cref="RotationOptions.StartAfter"/>; rows already moved are skipped by their header. Suited to a
/// <c>BackgroundService</c> that runs a pass per entity type after <see cref="PiiEncryption.RotateDataKeyAsync"/>.
/// </summary>
public sealed class PiiKeyRotator(PiiEncryption encryption)
{
    private static readonly MethodInfo PropertyMethod = typeof(EF).GetMethod(nameof(EF.Property))!;

    /// <summary>One pass over <typeparamref name="TEntity"/>'s rows in <paramref name="context"/> (a context with <c>UsePiiEncryption</c>).</summary>
    public async Task<RotationProgress> RotateAsync<TEntity>(DbContext context, RotationOptions? options = null, CancellationToken cancellationToken = default)
        where TEntity : class
    {
        ArgumentNullException.ThrowIfNull(context);
        options ??= new RotationOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.BatchSize, 1);
        IEntityType entityType = context.Model.FindEntityType(typeof(TEntity))
            ?? throw new InvalidOperationException($"{typeof(TEntity).Name} is not an entity type of this context.");
        if (!encryption.MapFor(context.Model).TryGet(entityType, out EntityPlan plan))
        {
            return new RotationProgress(options.StartAfter, 0, 0, 0, Completed: true);
        }
        if (plan.Key.Length != 1)
        {
            throw new NotSupportedException($"{entityType.DisplayName()} has a composite key; rotation walks single-column keys.");
        }
        IReadOnlySet<int> retired = await encryption.GetRetiredDataKeyIdsAsync(cancellationToken).ConfigureAwait(false);
        IProperty key = plan.Key[0];
        // The parameter is evaluated even when HasValue is false, so it always holds a value of the key's type.
        var cursor = new Cursor
        {
            Value = options.StartAfter ?? (key.ClrType == typeof(string) ? "" : Activator.CreateInstance(key.ClrType)),
            HasValue = options.StartAfter is not null,
        };
        IQueryable<object?[]> batchQuery = BatchQuery<TEntity>(context, plan, key, cursor, options.BatchSize);
        var progress = new RotationProgress(options.StartAfter, 0, 0, 0, Completed: false);
        while (true)
        {
            List<object?[]> rows = await batchQuery.ToListAsync(cancellationToken).ConfigureAwait(false);
            long moved = 0, conflicts = 0;
            foreach (object?[] row in rows)
            {
                switch (await MoveRowAsync<TEntity>(context, plan, key, row, retired, cancellationToken).ConfigureAwait(false))
                {
                    case true: moved++; break;
                    case false: conflicts++; break;
                }
            }
            if (rows.Count > 0)
            {
                cursor.Value = rows[^1][0];
                cursor.HasValue = true;
            }
            progress = new RotationProgress(cursor.HasValue ? cursor.Value : null, progress.Examined + rows.Count, progress.Moved + moved, progress.Conflicts + conflicts,
                Completed: rows.Count < options.BatchSize);
            if (options.OnBatch is not null)
            {
                await options.OnBatch(progress, cancellationToken).ConfigureAwait(false);
            }
            if (progress.Completed)
            {
                return progress;
            }
        }
    }

    // null: nothing under a retired DEK; true: moved; false: the row changed (or vanished) since it was read.
    private async Task<bool?> MoveRowAsync<TEntity>(DbContext context, EntityPlan plan, IProperty key, object?[] row, IReadOnlySet<int> retired,
        CancellationToken cancellationToken)
        where TEntity : class
    {
        var moves = new List<(FieldPlan Field, byte[] Old, byte[] New)>();
        string recordId = plan.RecordId(_ => row[0]);
        foreach (FieldPlan field in plan.Fields)
        {
            if (row[field.Ordinal + 1] is not byte[] old || !retired.Contains(FieldCipher.ReadHeader(old).DekId))
            {
                continue;
            }
            FieldContext fieldContext = field.Context(recordId);
            object value = encryption.Decrypt(field, old, fieldContext, out _);
            using FieldKeyLease lease = await encryption.Deks.LeaseEncryptionKeyAsync(field.Purpose, 1, cancellationToken).ConfigureAwait(false);
            moves.Add((field, old, encryption.Encrypt(lease.Key, field, value, fieldContext)));
        }
        if (moves.Count == 0)
        {
            return null;
        }
        var entity = Expression.Parameter(typeof(TEntity), "e");
        Expression match = Expression.Equal(Access(entity, key.ClrType, key.Name), Expression.Convert(Expression.Constant(row[0]), key.ClrType));
        foreach (var (field, old, _) in moves)
        {
            match = Expression.AndAlso(match, Expression.Equal(Access(entity, typeof(byte[]), field.Ciphertext.Name), Expression.Constant(old)));
        }
        int changed = await context.Set<TEntity>().Where(Expression.Lambda<Func<TEntity, bool>>(match, entity))
            .ExecuteUpdateAsync(setters =>
            {
                foreach (var (field, _, replacement) in moves)
                {
                    setters.SetProperty(Expression.Lambda<Func<TEntity, byte[]>>(Access(entity, typeof(byte[]), field.Ciphertext.Name), entity), replacement);
                }
            }, cancellationToken).ConfigureAwait(false);
        return changed == 1;
    }

    private static IQueryable<object?[]> BatchQuery<TEntity>(DbContext context, EntityPlan plan, IProperty key, Cursor cursor, int batchSize)
        where TEntity : class
    {
        var entity = Expression.Parameter(typeof(TEntity), "e");
        Expression keyAccess = Access(entity, key.ClrType, key.Name);
        // Read from a captured object, so EF Core makes the cursor a parameter and compiles the query once.
        var holder = Expression.Constant(cursor);
        Expression after = Expression.Convert(Expression.Property(holder, nameof(Cursor.Value)), key.ClrType);
        Expression greater = HasComparisonOperator(key.ClrType)
            ? Expression.GreaterThan(keyAccess, after)
            : Expression.GreaterThan(keyAccess, after, liftToNull: false, ComparisonMethod(key.ClrType));
        var filter = Expression.OrElse(Expression.Not(Expression.Property(holder, nameof(Cursor.HasValue))), greater);
        var keySelector = Expression.Lambda(keyAccess, entity);
        var projection = Expression.Lambda<Func<TEntity, object?[]>>(
            Expression.NewArrayInit(typeof(object),
                [Expression.Convert(keyAccess, typeof(object)), .. plan.Fields.Select(f => Access(entity, typeof(byte[]), f.Ciphertext.Name))]),
            entity);
        IQueryable<TEntity> source = context.Set<TEntity>().AsNoTracking().Where(Expression.Lambda<Func<TEntity, bool>>(filter, entity));
        var ordered = (IQueryable<TEntity>)source.Provider.CreateQuery<TEntity>(Expression.Call(typeof(Queryable), nameof(Queryable.OrderBy),
            [typeof(TEntity), key.ClrType], source.Expression, Expression.Quote(keySelector)));
        return ordered.Take(batchSize).Select(projection);
    }

    private static MethodCallExpression Access(ParameterExpression entity, Type type, string name) =>
        Expression.Call(PropertyMethod.MakeGenericMethod(type), entity, Expression.Constant(name));

    private static bool HasComparisonOperator(Type type) =>
        type.IsPrimitive || type == typeof(decimal) || type == typeof(DateTime) || type == typeof(DateTimeOffset) || type == typeof(DateOnly);

    // Guid and string have no > operator in C#; the database compares them natively, this method only types the tree.
    private static MethodInfo ComparisonMethod(Type type) =>
        typeof(KeyComparison).GetMethod(nameof(KeyComparison.GreaterThan), [type, type])
            ?? throw new NotSupportedException($"Rotation cannot walk keys of type {type.Name}.");

    private sealed class Cursor
    {
        public object? Value { get; set; }

        public bool HasValue { get; set; }
    }

    private static class KeyComparison
    {
        public static bool GreaterThan(Guid left, Guid right) => left.CompareTo(right) > 0;

        public static bool GreaterThan(string left, string right) => string.CompareOrdinal(left, right) > 0;
    }
}
