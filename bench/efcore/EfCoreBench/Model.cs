using Microsoft.EntityFrameworkCore;
using Pii.Crypto.BlindIndexing;
using Pii.EntityFrameworkCore;

namespace Pii.Bench.EfCore;

public sealed class PlainPerson
{
    public Guid Id { get; set; } = Guid.CreateVersion7();

    public string FullName { get; set; } = "";

    public string? Email { get; set; }

    public DateOnly? BirthDate { get; set; }

    public int Visits { get; set; }
}

/// <summary>The same entity; three properties encrypted, two of them with a blind index.</summary>
public sealed class SecretPerson
{
    public Guid Id { get; set; } = Guid.CreateVersion7();

    [Encrypted]
    [BlindIndexed(BlindIndexKind.Name)]
    public string FullName { get; set; } = "";

    [Encrypted]
    [BlindIndexed(BlindIndexKind.Email)]
    public string? Email { get; set; }

    [Encrypted]
    public DateOnly? BirthDate { get; set; }

    public int Visits { get; set; }
}

public sealed class PlainContext(DbContextOptions<PlainContext> options) : DbContext(options)
{
    public DbSet<PlainPerson> People => Set<PlainPerson>();

    protected override void OnModelCreating(ModelBuilder modelBuilder) =>
        modelBuilder.Entity<PlainPerson>(e =>
        {
            e.ToTable("plain_people");
            e.HasIndex(p => p.FullName);
            e.HasIndex(p => p.Email).IsUnique();
        });
}

public sealed class SecretContext(DbContextOptions<SecretContext> options) : DbContext(options)
{
    public DbSet<SecretPerson> People => Set<SecretPerson>();

    protected override void OnModelCreating(ModelBuilder modelBuilder) => modelBuilder.Entity<SecretPerson>().ToTable("secret_people");
}
