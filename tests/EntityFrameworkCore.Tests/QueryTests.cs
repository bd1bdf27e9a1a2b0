using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace Pii.EntityFrameworkCore.Tests;

[Collection(PostgresGroup.Name)]
public sealed class QueryTests(PostgresFixture fixture)
{
    private async Task<(string Db, PiiEncryption Encryption)> SeedAsync()
    {
        string db = await fixture.CreateDatabaseAsync();
        var encryption = fixture.Encryption(db, PostgresFixture.LocalKek());
        await using var context = ClinicContext.Create(db, encryption);
        await context.Database.EnsureCreatedAsync();
        for (int i = 0; i < 50; i++)
        {
            context.Patients.Add(new Patient
            {
                FullName = $"Patient {i}",
                Email = $"p{i}@example.com",
                Ssn = $"{i:D9}",
                Mrn = $"MRN-{i:D4}",
                Phone = $"+1 202 555 {i:D4}",
                Notes = "n",
            });
        }
        await context.SaveChangesAsync();
        return (db, encryption);
    }

    [Fact]
    public async Task Equality_on_blind_indexed_and_deterministic_properties_uses_the_index()
    {
        var (db, encryption) = await SeedAsync();
        using var _ = encryption;
        await using var context = ClinicContext.Create(db, encryption);
        string email = "  P7@Example.COM ";
        var byEmail = await context.Patients.SingleAsync(p => p.Email == email);
        Assert.Equal("Patient 7", byEmail.FullName);
        Assert.Equal("Patient 8", (await context.Patients.SingleAsync(p => p.Ssn == "000-00-0008")).FullName);
        Assert.Equal("Patient 9", (await context.Patients.SingleAsync(p => p.Mrn == "MRN-0009")).FullName);
        Assert.Equal("Patient 10", (await context.Patients.SingleAsync(p => p.Phone == "+1 (202) 555-0010")).FullName);
        Assert.Equal("Patient 11", (await context.Patients.WhereEncryptedEquals(p => p.FullName, "patient   11").SingleAsync()).FullName);
        Assert.Equal(49, await context.Patients.CountAsync(p => p.Email != "p3@example.com"));
        Assert.Empty(await context.Patients.Where(p => p.Mrn == "mrn-0009").ToListAsync());

        // The SQL compares the index column with a parameter (the HMAC), never the ciphertext or a decrypted value.
        string sql = context.Patients.Where(p => p.Email == email).ToQueryString();
        Assert.Contains("p.email_index = @", sql, StringComparison.Ordinal);
        Assert.DoesNotContain("p.email =", sql, StringComparison.Ordinal);
        string mrn = "MRN-0009";
        Assert.Contains("p.mrn_index = @", context.Patients.Where(p => p.Mrn == mrn).ToQueryString(), StringComparison.Ordinal);

        // And an index on it exists, which PostgreSQL uses for the lookup.
        await using var connection = new NpgsqlConnection(db);
        await connection.OpenAsync();
        await using (var command = new NpgsqlCommand("SELECT count(*) FROM pg_indexes WHERE tablename = 'patients' AND indexdef LIKE '%(email_index)%' AND indexdef LIKE 'CREATE UNIQUE%'", connection))
        {
            Assert.Equal(1L, await command.ExecuteScalarAsync());
        }
        await using (var command = new NpgsqlCommand("SET enable_seqscan = off; EXPLAIN SELECT id FROM patients WHERE email_index = '\\x00'::bytea", connection))
        {
            Assert.Contains("ix_patients_email_index", (string)(await command.ExecuteScalarAsync())!, StringComparison.OrdinalIgnoreCase);
        }
    }

    public static TheoryData<string> Misuses => ["order", "contains", "startswith", "range", "unindexed", "two-columns"];

    [Theory]
    [MemberData(nameof(Misuses))]
    public async Task Ordering_like_and_unindexed_comparisons_fail_at_translation(string misuse)
    {
        var (db, encryption) = await SeedAsync();
        using var _ = encryption;
        await using var context = ClinicContext.Create(db, encryption);
        IQueryable<Patient> query = misuse switch
        {
            "order" => context.Patients.OrderBy(p => p.Email),
            "contains" => context.Patients.Where(p => p.FullName.Contains("Patient")),
            "startswith" => context.Patients.Where(p => p.Email!.StartsWith("p1")),
            "range" => context.Patients.Where(p => p.Balance > 10),
            "unindexed" => context.Patients.Where(p => p.Notes == "n"),
            _ => context.Patients.Where(p => p.Email == p.Notes),
        };
        var error = await Assert.ThrowsAsync<EncryptedPropertyQueryException>(() => query.ToListAsync());
        Assert.Contains("is encrypted", error.Message, StringComparison.Ordinal);
    }
}
