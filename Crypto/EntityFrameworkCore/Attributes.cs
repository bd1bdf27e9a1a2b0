using Pii.Crypto.BlindIndexing;
using Pii.Crypto.Fields;
using Pii.Crypto.Tiers;

namespace Pii.EntityFrameworkCore;

/// <summary>
/// Stores the property encrypted: the attribute form of
/// <see cref="PiiPropertyBuilderExtensions.IsEncrypted{TProperty}(Microsoft.EntityFrameworkCore.Metadata.Builders.PropertyBuilder{TProperty}, Tier, FieldMode, string?)"/>.
/// Fluent configuration, where given, wins.
/// </summary>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = false)]
public sealed class EncryptedAttribute : Attribute
{
    /// <summary>Tier 2, randomized.</summary>
    public EncryptedAttribute()
        : this(Tier.Two)
    {
    }

    public EncryptedAttribute(Tier tier) => Tier = tier;

    /// <summary>Tier 2 in the given mode.</summary>
    public EncryptedAttribute(FieldMode mode)
    {
        Tier = Tier.Two;
        Mode = mode;
    }

    public Tier Tier { get; }

    public FieldMode Mode { get; set; } = FieldMode.Randomized;

    /// <summary>The DEK purpose (default: the table name).</summary>
    public string? Purpose { get; set; }
}

/// <summary>Adds a blind index (keyed HMAC) beside the encrypted property, for equality search.</summary>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = false)]
public sealed class BlindIndexedAttribute(BlindIndexKind kind) : Attribute
{
    public BlindIndexKind Kind { get; } = kind;

    /// <summary>Makes the database index on the index column unique.</summary>
    public bool Unique { get; set; }
}

/// <summary>
/// Marks a property as personal data. Building the model fails unless the property is also encrypted with a tier
/// (<see cref="EncryptedAttribute"/> or <c>IsEncrypted</c>), so undeclared PII cannot reach the database in clear.
/// </summary>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = false)]
public sealed class PersonalDataAttribute : Attribute;
