using Microsoft.EntityFrameworkCore;
using Npgsql;
using Pii.Crypto;
using Pii.Crypto.Fields;

namespace Pii.EntityFrameworkCore.Tests;

[Collection(PostgresGroup.Name)]
public sealed class EncryptedPropertyTests(PostgresFixture fixture)
{
    private static Patient Alice() => new()
    {
        FullName = "Alice Liddell",
        Email = "alice@example.com",
        Ssn = "123456789",
        Mrn = "MRN-0001",
        BirthDate = new DateOnly(1990, 5, 17),
        Balance = 1234.56m,
        Notes = "allergic to penicillin",
        Phone = "+44 20 7946 0958",
        Visits = 3,
    };

    private async Task<(string ConnectionString, PiiEncryption Encryption)> NewDatabaseAsync(byte[]? applicationKey = null)
    {
        string connectionString = await fixture.CreateDatabaseAsync();
        var encryption = fixture.Encryption(connectionString, applicationKey: applicationKey);
        await using var context = ClinicContext.Create(connectionString, encryption);
        await context.Database.EnsureCreatedAsync();
        await encryption.InitializeAsync();
        return (connectionString, encryption);
    }

    private static async Task<T?> ScalarAsync<T>(string connectionString, string sql, Guid? id = null)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        if (id is not null) command.Parameters.AddWithValue("id", id.Value);
        object? result = await command.ExecuteScalarAsync();
        return result is null or DBNull ? default : (T)result;
    }

    private static async Task ExecuteAsync(string connectionString, string sql, params (string Name, object Value)[] parameters)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var (name, value) in parameters) command.Parameters.AddWithValue(name, value);
        await command.ExecuteNonQueryAsync();
    }

    [Fact]
    public async Task Saves_ciphertexts_and_reads_plain_values_back()
    {
        var (db, encryption) = await NewDatabaseAsync();
        using var _ = encryption;
        var alice = Alice();
        await using (var context = ClinicContext.Create(db, encryption))
        {
            context.Patients.Add(alice);
            await context.SaveChangesAsync();
        }

        // The database holds our field format (randomized 0x11, deterministic 0x12), never the plaintext.
        byte[] email = (await ScalarAsync<byte[]>(db, "SELECT email FROM patients WHERE id = @id", alice.Id))!;
        Assert.Equal(0x11, email[0]);
        Assert.Equal(FieldMode.Randomized, FieldCipher.ReadHeader(email).Mode);
        Assert.Equal(0x12, (await ScalarAsync<byte[]>(db, "SELECT mrn FROM patients WHERE id = @id", alice.Id))![0]);
        string dump = await ScalarAsync<string>(db, "SELECT p::text FROM patients p WHERE id = @id", alice.Id) ?? "";
        foreach (string plain in new[] { "alice", "Alice", "123456789", "MRN-0001", "1990-05-17", "1234.56", "penicillin", "7946" })
        {
            Assert.DoesNotContain(plain, dump, StringComparison.Ordinal);
            Assert.DoesNotContain(Convert.ToHexString(System.Text.Encoding.UTF8.GetBytes(plain)), dump, StringComparison.OrdinalIgnoreCase);
        }
        Assert.Equal("bytea", await ScalarAsync<string>(db, "SELECT data_type FROM information_schema.columns WHERE table_name = 'patients' AND column_name = 'balance'"));
        // Clear columns stay clear; DEKs are stored wrapped by the key service's transit KEK.
        Assert.Equal(3, await ScalarAsync<int>(db, "SELECT visits FROM patients WHERE id = @id", alice.Id));
        Assert.StartsWith("vault:v1:", await ScalarAsync<string>(db, "SELECT ciphertext FROM pii_data_keys WHERE purpose = 'patients'"), StringComparison.Ordinal);

        await using (var context = ClinicContext.Create(db, encryption))
        {
            var loaded = await context.Patients.SingleAsync(p => p.Id == alice.Id);
            Assert.Equivalent(alice, loaded, strict: true);
            var untracked = await context.Patients.AsNoTracking().SingleAsync(p => p.Id == alice.Id);
            Assert.Equal("123456789", untracked.Ssn);
            Assert.Equal(new DateOnly(1990, 5, 17), untracked.BirthDate);
            var projected = await context.Patients.Where(p => p.Id == alice.Id).Select(p => new { p.Email, p.Balance }).SingleAsync();
            Assert.Equal(("alice@example.com", 1234.56m), (projected.Email, projected.Balance));
        }
    }

    [Fact]
    public async Task Null_stays_null_and_the_empty_string_is_a_value()
    {
        var (db, encryption) = await NewDatabaseAsync();
        using var _ = encryption;
        var patient = new Patient { FullName = "Bob", Email = null, Notes = "", Ssn = null, BirthDate = null };
        await using (var context = ClinicContext.Create(db, encryption))
        {
            context.Patients.Add(patient);
            await context.SaveChangesAsync();
        }
        Assert.True(await ScalarAsync<bool>(db, "SELECT email IS NULL AND email_index IS NULL AND ssn IS NULL AND birth_date IS NULL FROM patients WHERE id = @id", patient.Id));
        // "" is a real ciphertext: header, nonce and tag (30 bytes for a small DEK id).
        Assert.Equal(30, await ScalarAsync<int>(db, "SELECT length(notes) FROM patients WHERE id = @id", patient.Id));
        await using (var context = ClinicContext.Create(db, encryption))
        {
            var loaded = await context.Patients.SingleAsync(p => p.Id == patient.Id);
            Assert.Null(loaded.Email);
            Assert.Null(loaded.BirthDate);
            Assert.Equal("", loaded.Notes);
            Assert.Equal(patient.Id, (await context.Patients.SingleAsync(p => p.Email == null)).Id);
            Assert.Empty(await context.Patients.Where(p => p.Notes == null).ToListAsync());
        }
    }

    [Theory]
    [InlineData("UPDATE patients SET ssn = (SELECT ssn FROM patients WHERE id = @from) WHERE id = @to")]
    [InlineData("UPDATE patients SET email = (SELECT notes FROM patients WHERE id = @to) WHERE id = @to")]
    [InlineData("UPDATE patients SET balance = (SELECT balance FROM patients WHERE id = @from) WHERE id = @to")]
    public async Task A_ciphertext_moved_to_another_row_or_column_fails_to_decrypt(string move)
    {
        var (db, encryption) = await NewDatabaseAsync();
        using var _ = encryption;
        var alice = Alice();
        var bob = Alice();
        bob.Email = "bob@example.com";
        bob.Ssn = "987654321";
        await using (var context = ClinicContext.Create(db, encryption))
        {
            context.Patients.AddRange(alice, bob);
            await context.SaveChangesAsync();
        }
        await ExecuteAsync(db, move, ("from", alice.Id), ("to", bob.Id));
        await using (var context = ClinicContext.Create(db, encryption))
        {
            Assert.Equal("alice@example.com", (await context.Patients.SingleAsync(p => p.Id == alice.Id)).Email);
            await Assert.ThrowsAsync<TamperedException>(() => context.Patients.SingleAsync(p => p.Id == bob.Id));
        }
    }

    [Fact]
    public async Task Tier_three_needs_the_application_key_as_well_as_the_dek()
    {
        byte[] applicationKey = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);
        var (db, encryption) = await NewDatabaseAsync(applicationKey);
        using var _ = encryption;
        var alice = Alice();
        await using (var context = ClinicContext.Create(db, encryption))
        {
            context.Patients.Add(alice);
            await context.SaveChangesAsync();
        }
        // Outer layer: a DEK from the key service. Inside it: another field ciphertext, under the application key (DEK id 0).
        byte[] stored = (await ScalarAsync<byte[]>(db, "SELECT ssn FROM patients WHERE id = @id", alice.Id))!;
        var fieldContext = new FieldContext("patients", "ssn", alice.Id.ToString());
        byte[] inner = (await encryption.Deks.DecryptAsync(stored, fieldContext))!;
        Assert.Equal(0, FieldCipher.ReadHeader(inner).DekId);
        using (var appKey = FieldKey.FromDek(0, applicationKey))
        {
            Assert.Equal("123456789", System.Text.Encoding.UTF8.GetString(FieldCipher.Decrypt(appKey, inner, fieldContext)!));
        }

        // The same DEKs with another application key read tier 2 but not tier 3.
        using var wrongApplicationKey = fixture.Encryption(db);
        await using var other = ClinicContext.Create(db, wrongApplicationKey);
        await Assert.ThrowsAsync<TamperedException>(() => other.Patients.SingleAsync(p => p.Id == alice.Id));
    }

    [Fact]
    public async Task Changes_are_re_encrypted_and_unchanged_values_are_not_rewritten()
    {
        var (db, encryption) = await NewDatabaseAsync();
        using var _ = encryption;
        var alice = Alice();
        await using (var context = ClinicContext.Create(db, encryption))
        {
            context.Patients.Add(alice);
            await context.SaveChangesAsync();
        }
        byte[] before = (await ScalarAsync<byte[]>(db, "SELECT email FROM patients WHERE id = @id", alice.Id))!;
        byte[] notesBefore = (await ScalarAsync<byte[]>(db, "SELECT notes FROM patients WHERE id = @id", alice.Id))!;
        await using (var context = ClinicContext.Create(db, encryption))
        {
            var loaded = await context.Patients.SingleAsync(p => p.Id == alice.Id);
            loaded.Visits++;
            Assert.Equal(1, await context.SaveChangesAsync());
            Assert.Equal(before, await ScalarAsync<byte[]>(db, "SELECT email FROM patients WHERE id = @id", alice.Id));
            loaded.Email = "alice@wonderland.example";
            await context.SaveChangesAsync();
        }
        Assert.NotEqual(before, await ScalarAsync<byte[]>(db, "SELECT email FROM patients WHERE id = @id", alice.Id));
        Assert.Equal(notesBefore, await ScalarAsync<byte[]>(db, "SELECT notes FROM patients WHERE id = @id", alice.Id));
        await using (var context = ClinicContext.Create(db, encryption))
        {
            Assert.Empty(await context.Patients.Where(p => p.Email == "alice@example.com").ToListAsync());
            Assert.Equal(alice.Id, (await context.Patients.SingleAsync(p => p.Email == "alice@wonderland.example")).Id);
            // Update() marks every column written: the index must be recomputed from the value, not from what was read back.
            var detached = await context.Patients.AsNoTracking().SingleAsync(p => p.Id == alice.Id);
            context.ChangeTracker.Clear();
            context.Update(detached);
            await context.SaveChangesAsync();
            Assert.Equal(alice.Id, (await context.Patients.AsNoTracking().SingleAsync(p => p.Email == "alice@wonderland.example")).Id);
        }
    }
}
