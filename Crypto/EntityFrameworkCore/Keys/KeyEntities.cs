using System.ComponentModel.DataAnnotations;
using System.ComponentModel.DataAnnotations.Schema;
using Microsoft.EntityFrameworkCore;

namespace Pii.EntityFrameworkCore.Keys;

/// <summary>
/// A wrapped DEK (<c>pii_data_keys</c>). <see cref="ActivePurpose"/> equals <see cref="Purpose"/> while the DEK is
/// active and is NULL once it is retired; its unique index keeps one active DEK per purpose on every provider
/// (NULLs do not collide), without a filtered index.
/// </summary>
[Table("pii_data_keys")]
[Index(nameof(ActivePurpose), IsUnique = true)]
internal sealed class PiiDataKey
{
    [Key]
    [Column("id")]
    [DatabaseGenerated(DatabaseGeneratedOption.Identity)]
    public int Id { get; set; }

    [Column("purpose")]
    [MaxLength(200)]
    public string Purpose { get; set; } = "";

    [Column("active_purpose")]
    [MaxLength(200)]
    public string? ActivePurpose { get; set; }

    [Column("kek_name")]
    [MaxLength(200)]
    public string KekName { get; set; } = "";

    [Column("kek_version")]
    public int KekVersion { get; set; }

    [Column("ciphertext")]
    [MaxLength(1000)]
    public string Ciphertext { get; set; } = "";

    [Column("created_at")]
    public DateTimeOffset CreatedAt { get; set; }

    [Column("retired_at")]
    public DateTimeOffset? RetiredAt { get; set; }

    [Column("use_count")]
    public long UseCount { get; set; }
}

/// <summary>A named key of the integration itself, stored wrapped by the KEK (<c>pii_service_keys</c>): the blind-index root key.</summary>
[Table("pii_service_keys")]
internal sealed class PiiServiceKey
{
    [Key]
    [Column("name")]
    [MaxLength(100)]
    public string Name { get; set; } = "";

    [Column("kek_name")]
    [MaxLength(200)]
    public string KekName { get; set; } = "";

    [Column("kek_version")]
    public int KekVersion { get; set; }

    [Column("ciphertext")]
    [MaxLength(1000)]
    public string Ciphertext { get; set; } = "";
}

/// <summary>The key tables alone, for the DEK store (it never goes through the user's context and its interceptors).</summary>
internal sealed class PiiKeyDbContext(DbContextOptions<PiiKeyDbContext> options) : DbContext(options)
{
    public DbSet<PiiDataKey> DataKeys => Set<PiiDataKey>();

    public DbSet<PiiServiceKey> ServiceKeys => Set<PiiServiceKey>();
}
