using Microsoft.EntityFrameworkCore;
using Pii.Crypto.BlindIndexing;
using Pii.Crypto.Tiers;

namespace Pii.EntityFrameworkCore.Sample;

/// <summary>A shop's customer. Compared with the plain EF Core model, only the attributes are new.</summary>
public sealed class Customer
{
    public Guid Id { get; set; } = Guid.CreateVersion7();

    [Encrypted]
    public string Name { get; set; } = "";

    [Encrypted]
    [BlindIndexed(BlindIndexKind.Email, Unique = true)]
    public string Email { get; set; } = "";

    [Encrypted(Tier.Three)]
    public string? CardNumber { get; set; }

    [Encrypted]
    public DateOnly? BirthDate { get; set; }

    public DateTimeOffset CreatedAt { get; set; } = DateTimeOffset.UtcNow;
}

public sealed class ShopContext(DbContextOptions<ShopContext> options) : DbContext(options)
{
    public DbSet<Customer> Customers => Set<Customer>();
}
