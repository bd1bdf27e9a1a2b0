using System.Collections;
using System.Globalization;
using System.Linq.Expressions;
using System.Reflection;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Metadata;
using Pii.Crypto.BlindIndexing;
using Pii.Crypto.Fields;
using Pii.Crypto.Tiers;

namespace Pii.EntityFrameworkCore.Internal;

/// <summary>The encrypted properties of one (runtime) model, resolved once from the annotations the convention left.</summary>
internal sealed class PiiModelMap
{
    private readonly Dictionary<IEntityType, EntityPlan> _entities;
    private readonly Dictionary<(Type Type, string Name), FieldPlan> _members;

    private PiiModelMap(Dictionary<IEntityType, EntityPlan> entities, Dictionary<(Type, string), FieldPlan> members)
    {
        _entities = entities;
        _members = members;
    }

    public bool IsEmpty => _entities.Count == 0;

    public static PiiModelMap Build(IModel model)
    {
        var entities = new Dictionary<IEntityType, EntityPlan>();
        var members = new Dictionary<(Type, string), FieldPlan>();
        foreach (IEntityType entityType in model.GetEntityTypes())
        {
            var fields = new List<FieldPlan>();
            foreach (IProperty ciphertext in entityType.GetProperties())
            {
                if (ciphertext.FindAnnotation(PiiAnnotations.CiphertextOf)?.Value is not string name)
                {
                    continue;
                }
                PropertyInfo clr = entityType.ClrType.GetProperty(name, BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance)
                    ?? throw new InvalidOperationException($"{entityType.DisplayName()} has no CLR property {name}.");
                IProperty? index = entityType.FindProperty(PiiAnnotations.IndexProperty(name));
                var field = new FieldPlan(fields.Count, clr, ciphertext, index,
                    (string)ciphertext[PiiAnnotations.Table]!, (string)ciphertext[PiiAnnotations.Column]!,
                    (Tier)(int)ciphertext[PiiAnnotations.Tier]!, (FieldMode)(int)ciphertext[PiiAnnotations.Mode]!, (string)ciphertext[PiiAnnotations.Purpose]!,
                    index is null ? null : (BlindIndexKind)(int)index[PiiAnnotations.BlindIndex]!);
                fields.Add(field);
                members[(clr.DeclaringType!, clr.Name)] = field;
            }
            if (fields.Count > 0)
            {
                entities[entityType] = new EntityPlan(entityType, [.. entityType.FindPrimaryKey()!.Properties], [.. fields]);
            }
        }
        return new PiiModelMap(entities, members);
    }

    public bool TryGet(IEntityType entityType, out EntityPlan plan) => _entities.TryGetValue(entityType, out plan!);

    /// <summary>The encrypted property a member access in a query refers to, if any.</summary>
    public FieldPlan? FindMember(MemberInfo member) =>
        member.DeclaringType is { } type && _members.TryGetValue((type, member.Name), out FieldPlan? field) ? field : null;
}

internal sealed class EntityPlan(IEntityType entityType, IProperty[] key, FieldPlan[] fields)
{
    private static readonly MethodInfo ReadValue = typeof(MaterializationInterceptionData).GetMethods()
        .Single(m => m.Name == nameof(MaterializationInterceptionData.GetPropertyValue) && m.IsGenericMethodDefinition
            && m.GetParameters() is [{ ParameterType: var type }] && type == typeof(IPropertyBase));

    // MaterializationInterceptionData reads a value only as its own type, so each key column gets a typed reader.
    private readonly Func<MaterializationInterceptionData, object?>[] _keyReaders = [.. key.Select(KeyReader)];

    public IEntityType EntityType { get; } = entityType;

    public IProperty[] Key { get; } = key;

    public FieldPlan[] Fields { get; } = fields;

    /// <summary>The record id bound into every ciphertext of the row: the key value(s), invariant text, '/'-separated.</summary>
    public string RecordId(Func<IProperty, object?> valueOf)
    {
        if (Key.Length == 1)
        {
            return Format(valueOf(Key[0]));
        }
        return string.Join('/', Key.Select(p => Format(valueOf(p))));
    }

    /// <summary>The record id of a row being materialized.</summary>
    public string RecordId(MaterializationInterceptionData data) =>
        Key.Length == 1 ? Format(_keyReaders[0](data)) : string.Join('/', _keyReaders.Select(read => Format(read(data))));

    private static Func<MaterializationInterceptionData, object?> KeyReader(IProperty property)
    {
        var data = Expression.Parameter(typeof(MaterializationInterceptionData), "data");
        var read = Expression.Call(data, ReadValue.MakeGenericMethod(property.ClrType), Expression.Constant(property, typeof(IPropertyBase)));
        return Expression.Lambda<Func<MaterializationInterceptionData, object?>>(Expression.Convert(read, typeof(object)), data).Compile();
    }

    private static string Format(object? value) => value switch
    {
        null => throw new InvalidOperationException("An entity with encrypted properties needs its key value before it is saved."),
        IFormattable formattable => formattable.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString()!,
    };
}

internal sealed class FieldPlan
{
    private readonly Func<object, object?> _get;
    private readonly Action<object, object?> _set;

    public FieldPlan(int ordinal, PropertyInfo clr, IProperty ciphertext, IProperty? index, string table, string column, Tier tier, FieldMode mode,
        string purpose, BlindIndexKind? indexKind)
    {
        Ordinal = ordinal;
        Clr = clr;
        Ciphertext = ciphertext;
        Index = index;
        Table = table;
        Column = column;
        Tier = tier;
        Mode = mode;
        Purpose = purpose;
        IndexKind = indexKind;
        (_get, _set) = Accessors(clr);
    }

    public int Ordinal { get; }

    public PropertyInfo Clr { get; }

    public Type ClrType => Clr.PropertyType;

    public IProperty Ciphertext { get; }

    public IProperty? Index { get; }

    public string Table { get; }

    public string Column { get; }

    public Tier Tier { get; }

    public FieldMode Mode { get; }

    public string Purpose { get; }

    public BlindIndexKind? IndexKind { get; }

    public string DisplayName => $"{Clr.DeclaringType!.Name}.{Clr.Name}";

    public object? Get(object entity) => _get(entity);

    public void Set(object entity, object? value) => _set(entity, value);

    public FieldContext Context(string recordId) => new(Table, Column, recordId);

    public static bool ValuesEqual(object? a, object? b) =>
        a is byte[] x && b is byte[] y ? StructuralComparisons.StructuralEqualityComparer.Equals(x, y) : Equals(a, b);

    private static (Func<object, object?>, Action<object, object?>) Accessors(PropertyInfo property)
    {
        var entity = Expression.Parameter(typeof(object), "entity");
        var value = Expression.Parameter(typeof(object), "value");
        var typed = Expression.Convert(entity, property.DeclaringType!);
        var getter = Expression.Lambda<Func<object, object?>>(Expression.Convert(Expression.Property(typed, property), typeof(object)), entity).Compile();
        var setter = Expression.Lambda<Action<object, object?>>(
            Expression.Assign(Expression.Property(typed, property), Expression.Convert(value, property.PropertyType)), entity, value).Compile();
        return (getter, setter);
    }
}

/// <summary>The plaintexts an entity had when it was last read or saved, and the DEK each of its ciphertexts names (-1: NULL).</summary>
internal sealed class EntitySnapshot(int fields)
{
    public object?[] Values { get; } = new object?[fields];

    public int[] DekIds { get; } = new int[fields];
}
