using System.Reflection;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Microsoft.EntityFrameworkCore.Metadata.Conventions;
using Pii.Crypto.BlindIndexing;
using Pii.Crypto.Fields;
using Pii.Crypto.Tiers;
using Pii.EntityFrameworkCore.Keys;

namespace Pii.EntityFrameworkCore.Internal;

/// <summary>
/// Turns the declarations into mapping, once all user configuration is in (model finalizing): each encrypted CLR
/// property is ignored and a shadow <c>byte[]</c> property takes its column (the ciphertext); a blind index becomes a
/// shadow <c>string</c> property whose value converter stores HMAC(normalized value) in <c>&lt;column&gt;_index</c>, with a
/// database index. Every problem in the declarations is collected and reported in one model-building error. It also
/// adds the key tables (<c>pii_data_keys</c>, <c>pii_service_keys</c>) to the model, so migrations and EnsureCreated make them.
/// </summary>
internal sealed class PiiModelConvention(PiiEncryption encryption) : IModelInitializedConvention, IModelFinalizingConvention
{
    public void ProcessModelInitialized(IConventionModelBuilder modelBuilder, IConventionContext<IConventionModelBuilder> context)
    {
        modelBuilder.Entity(typeof(PiiDataKey), fromDataAnnotation: true);
        modelBuilder.Entity(typeof(PiiServiceKey), fromDataAnnotation: true);
    }

    public void ProcessModelFinalizing(IConventionModelBuilder modelBuilder, IConventionContext<IConventionModelBuilder> context)
    {
        var problems = new List<string>();
        foreach (var entityType in modelBuilder.Metadata.GetEntityTypes().Cast<IMutableEntityType>().ToList())
        {
            foreach (var property in entityType.GetDeclaredProperties().Where(p => p.PropertyInfo is not null).ToList())
            {
                Declare(entityType, property, problems);
            }
        }
        if (problems.Count > 0)
        {
            throw new InvalidOperationException("PII model is invalid: " + string.Join("; ", problems) + ".");
        }
    }

    private void Declare(IMutableEntityType entityType, IMutableProperty property, List<string> problems)
    {
        PropertyInfo clr = property.PropertyInfo!;
        string name = $"{entityType.DisplayName()}.{property.Name}";
        var encrypted = clr.GetCustomAttribute<EncryptedAttribute>();
        var indexed = clr.GetCustomAttribute<BlindIndexedAttribute>();
        bool personal = property.FindAnnotation(PiiAnnotations.Personal)?.Value is true || clr.GetCustomAttribute<PersonalDataAttribute>() is not null;
        var tier = (Tier?)(property.FindAnnotation(PiiAnnotations.Tier)?.Value as int?) ?? encrypted?.Tier;
        var mode = (FieldMode?)(property.FindAnnotation(PiiAnnotations.Mode)?.Value as int?) ?? encrypted?.Mode ?? FieldMode.Randomized;
        string? purpose = property.FindAnnotation(PiiAnnotations.Purpose)?.Value as string ?? encrypted?.Purpose;
        var indexKind = (BlindIndexKind?)(property.FindAnnotation(PiiAnnotations.BlindIndex)?.Value as int?) ?? indexed?.Kind;
        bool unique = property.FindAnnotation(PiiAnnotations.BlindIndexUnique)?.Value as bool? ?? indexed?.Unique ?? false;

        if (tier is null)
        {
            if (personal)
            {
                problems.Add($"{name} is personal data but declares no tier (IsEncrypted(Tier.Two / Tier.Three) or [Encrypted])");
            }
            if (indexKind is not null)
            {
                problems.Add($"{name} has a blind index but is not encrypted");
            }
            return;
        }
        if (tier is not (Tier.Two or Tier.Three))
        {
            problems.Add($"{name} is declared tier {(int)tier}; an encrypted property is tier 2 or 3");
            return;
        }
        if (!Enum.IsDefined(mode))
        {
            problems.Add($"{name} has an unknown field mode");
            return;
        }
        if (!ValueCodec.Supports(clr.PropertyType))
        {
            problems.Add($"{name} is of type {clr.PropertyType.Name}, which cannot be encrypted (string, byte[], numbers, dates, Guid and bool can)");
            return;
        }
        if (property.IsKey() || property.IsForeignKey() || property.IsIndex())
        {
            problems.Add($"{name} is part of a key or index; an encrypted property cannot be (index it with HasBlindIndex)");
            return;
        }
        if (mode == FieldMode.Deterministic)
        {
            // Ciphertexts are bound to their row, so equal values never have equal ciphertexts across rows: equality
            // search goes through an exact-match keyed index instead.
            indexKind ??= BlindIndexKind.Exact;
        }
        if (indexKind is not null && clr.PropertyType != typeof(string))
        {
            problems.Add($"{name} has a blind index but is not a string");
            return;
        }

        string table = entityType.GetTableName() ?? entityType.ShortName();
        string column = property.GetColumnName();
        bool nullable = property.IsNullable;
        var key = entityType.FindPrimaryKey();
        if (key is null)
        {
            problems.Add($"{name} is encrypted but {entityType.DisplayName()} has no primary key to bind it to its row");
            return;
        }

        entityType.RemoveProperty(property);
        entityType.AddIgnored(property.Name);

        var ciphertext = entityType.AddProperty(PiiAnnotations.CiphertextProperty(property.Name), typeof(byte[]));
        ciphertext.IsNullable = nullable;
        ciphertext.SetColumnName(column);
        ciphertext.SetAnnotation(PiiAnnotations.CiphertextOf, property.Name);
        ciphertext.SetAnnotation(PiiAnnotations.Table, table);
        ciphertext.SetAnnotation(PiiAnnotations.Column, column);
        ciphertext.SetAnnotation(PiiAnnotations.Tier, (int)tier);
        ciphertext.SetAnnotation(PiiAnnotations.Mode, (int)mode);
        ciphertext.SetAnnotation(PiiAnnotations.Purpose, purpose ?? table);

        if (indexKind is { } kind)
        {
            var index = entityType.AddProperty(PiiAnnotations.IndexProperty(property.Name), typeof(string));
            index.IsNullable = nullable;
            index.SetColumnName(column + "_index");
            index.SetValueConverter(new BlindIndexConverter(encryption, table, column, kind));
            index.SetAnnotation(PiiAnnotations.IndexOf, property.Name);
            index.SetAnnotation(PiiAnnotations.BlindIndex, (int)kind);
            entityType.AddIndex(index).IsUnique = unique;
        }
    }
}
