using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Pii.Crypto.BlindIndexing;
using Pii.Crypto.Fields;
using Pii.Crypto.Tiers;
using Pii.EntityFrameworkCore.Internal;

namespace Pii.EntityFrameworkCore;

/// <summary>Declares a property's protection in the EF Core model (requires <c>UsePiiEncryption</c> on the context options).</summary>
public static class PiiPropertyBuilderExtensions
{
    /// <summary>
    /// Stores the property encrypted in our field format (a bytea / varbinary column of the same name), bound to table,
    /// column and row. Tier 2: one layer under a DEK of <paramref name="purpose"/> (default: the table name); tier 3:
    /// an inner layer under the application key first. Tier 1 (clear) is refused when the model is built.
    /// </summary>
    public static PropertyBuilder<TProperty> IsEncrypted<TProperty>(this PropertyBuilder<TProperty> builder, Tier tier = Tier.Two,
        FieldMode mode = FieldMode.Randomized, string? purpose = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        if (purpose is not null)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(purpose);
        }
        builder.HasAnnotation(PiiAnnotations.Tier, (int)tier);
        builder.HasAnnotation(PiiAnnotations.Mode, (int)mode);
        builder.HasAnnotation(PiiAnnotations.Purpose, purpose);
        return builder;
    }

    /// <summary>Tier 2 in <paramref name="mode"/>. Deterministic properties also get an exact-match index, so <c>==</c> works in queries.</summary>
    public static PropertyBuilder<TProperty> IsEncrypted<TProperty>(this PropertyBuilder<TProperty> builder, FieldMode mode) =>
        builder.IsEncrypted(Tier.Two, mode);

    /// <summary>
    /// Adds a blind index: a shadow column <c>&lt;column&gt;_index</c> holding HMAC-SHA256 of the normalized value (16 bytes)
    /// under a per-column key, with a database index. Queries comparing the property with <c>==</c> / <c>!=</c> use it.
    /// The property must be an encrypted string.
    /// </summary>
    public static PropertyBuilder<TProperty> HasBlindIndex<TProperty>(this PropertyBuilder<TProperty> builder, BlindIndexKind kind, bool unique = false)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.HasAnnotation(PiiAnnotations.BlindIndex, (int)kind);
        builder.HasAnnotation(PiiAnnotations.BlindIndexUnique, unique);
        return builder;
    }

    /// <summary>Marks the property as personal data: the model is invalid unless it is also encrypted (see <see cref="PersonalDataAttribute"/>).</summary>
    public static PropertyBuilder<TProperty> IsPersonalData<TProperty>(this PropertyBuilder<TProperty> builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.HasAnnotation(PiiAnnotations.Personal, true);
        return builder;
    }
}
