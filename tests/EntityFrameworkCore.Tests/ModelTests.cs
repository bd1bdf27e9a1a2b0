using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Pii.Crypto.Tiers;

namespace Pii.EntityFrameworkCore.Tests;

[Collection(PostgresGroup.Name)]
public sealed class ModelTests(PostgresFixture fixture)
{
    public sealed class Undeclared
    {
        public Guid Id { get; set; }

        [PersonalData]
        public string? Email { get; set; }
    }

    public sealed class ClearTier
    {
        public Guid Id { get; set; }

        [Encrypted(Tier.One)]
        public string? Email { get; set; }
    }

    public sealed class Counter
    {
        public int Id { get; set; }

        [Encrypted]
        public string? Secret { get; set; }
    }

    private sealed class OneEntityContext<T>(DbContextOptions options) : DbContext(options)
        where T : class
    {
        public DbSet<T> Items => Set<T>();
    }

    private static OneEntityContext<T> Context<T>(string connectionString, PiiEncryption encryption)
        where T : class =>
        new(new DbContextOptionsBuilder().UseNpgsql(connectionString).UsePiiEncryption(encryption)
            .ConfigureWarnings(warnings => warnings.Ignore(CoreEventId.ManyServiceProvidersCreatedWarning)).Options);

    [Fact]
    public async Task Personal_data_without_a_tier_is_a_model_building_error()
    {
        string db = await fixture.CreateDatabaseAsync();
        using var encryption = fixture.Encryption(db, PostgresFixture.LocalKek());
        await using var context = Context<Undeclared>(db, encryption);
        var error = Assert.Throws<InvalidOperationException>(() => context.Model);
        Assert.Contains("Undeclared.Email is personal data but declares no tier", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Tier_one_is_not_an_encryption_tier()
    {
        string db = await fixture.CreateDatabaseAsync();
        using var encryption = fixture.Encryption(db, PostgresFixture.LocalKek());
        await using var context = Context<ClearTier>(db, encryption);
        var error = Assert.Throws<InvalidOperationException>(() => context.Model);
        Assert.Contains("ClearTier.Email is declared tier 1", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_key_made_by_the_database_is_refused_before_anything_is_written()
    {
        string db = await fixture.CreateDatabaseAsync();
        using var encryption = fixture.Encryption(db, PostgresFixture.LocalKek());
        await using var context = Context<Counter>(db, encryption);
        await context.Database.EnsureCreatedAsync();
        context.Items.Add(new Counter { Secret = "s" });
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => context.SaveChangesAsync());
        Assert.Contains("needs a key set before saving", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, await context.Items.CountAsync());
    }
}
