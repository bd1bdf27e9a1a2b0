using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Pii.Crypto.BlindIndexing;
using Pii.Crypto.Fields;
using Pii.Crypto.Tiers;

namespace Pii.EntityFrameworkCore.Tests;

/// <summary>An entity declared both ways: fluent (in <see cref="ClinicContext"/>) and with attributes.</summary>
public sealed class Patient
{
    public Guid Id { get; set; } = Guid.CreateVersion7();

    public string FullName { get; set; } = "";

    public string? Email { get; set; }

    public string? Ssn { get; set; }

    public string? Mrn { get; set; }

    [Encrypted]
    [PersonalData]
    public DateOnly? BirthDate { get; set; }

    [Encrypted]
    public decimal Balance { get; set; }

    [Encrypted(Tier.Two)]
    public string? Notes { get; set; }

    [Encrypted]
    [BlindIndexed(BlindIndexKind.Phone)]
    public string? Phone { get; set; }

    public int Visits { get; set; }
}

public sealed class ClinicContext(DbContextOptions<ClinicContext> options) : DbContext(options)
{
    public DbSet<Patient> Patients => Set<Patient>();

    /// <remarks>
    /// Each test has its own keys, so its own <see cref="PiiEncryption"/> and with it its own EF Core service provider;
    /// an application has one, so it never sees the warning about many service providers that these tests silence.
    /// </remarks>
    public static ClinicContext Create(string connectionString, PiiEncryption encryption) =>
        new(new DbContextOptionsBuilder<ClinicContext>().UseNpgsql(connectionString).UsePiiEncryption(encryption)
            .ConfigureWarnings(warnings => warnings.Ignore(CoreEventId.ManyServiceProvidersCreatedWarning)).Options);

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<Patient>(patient =>
        {
            patient.ToTable("patients");
            patient.Property(p => p.Id).HasColumnName("id");
            patient.Property(p => p.FullName).HasColumnName("full_name").IsEncrypted().HasBlindIndex(BlindIndexKind.Name);
            patient.Property(p => p.Email).HasColumnName("email").IsEncrypted().HasBlindIndex(BlindIndexKind.Email, unique: true);
            patient.Property(p => p.Ssn).HasColumnName("ssn").IsEncrypted(Tier.Three).HasBlindIndex(BlindIndexKind.Ssn);
            patient.Property(p => p.Mrn).HasColumnName("mrn").IsEncrypted(FieldMode.Deterministic);
            patient.Property(p => p.BirthDate).HasColumnName("birth_date");
            patient.Property(p => p.Balance).HasColumnName("balance");
            patient.Property(p => p.Notes).HasColumnName("notes");
            patient.Property(p => p.Phone).HasColumnName("phone");
            patient.Property(p => p.Visits).HasColumnName("visits");
        });
    }
}
