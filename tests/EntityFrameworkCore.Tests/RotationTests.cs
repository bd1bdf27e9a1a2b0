using Microsoft.EntityFrameworkCore;
using Npgsql;
using Pii.Crypto.Fields;
using Pii.EntityFrameworkCore.Rotation;

namespace Pii.EntityFrameworkCore.Tests;

[Collection(PostgresGroup.Name)]
public sealed class RotationTests(PostgresFixture fixture)
{
    private const int Rows = 45;

    private async Task<(string Db, PiiEncryption Encryption, int OldDek, int NewDek)> SeedAndRetireAsync()
    {
        string db = await fixture.CreateDatabaseAsync();
        var encryption = fixture.Encryption(db, PostgresFixture.LocalKek());
        await using (var context = ClinicContext.Create(db, encryption))
        {
            await context.Database.EnsureCreatedAsync();
            for (int i = 0; i < Rows; i++)
            {
                context.Patients.Add(new Patient { FullName = $"Patient {i}", Email = $"p{i}@example.com", Ssn = $"{i:D9}", Notes = i % 2 == 0 ? null : "" });
            }
            await context.SaveChangesAsync();
        }
        var before = await DekIdsAsync(db);
        int oldDek = Assert.Single(before.Distinct());
        int newDek = await encryption.RotateDataKeyAsync("patients");
        Assert.NotEqual(oldDek, newDek);
        return (db, encryption, oldDek, newDek);
    }

    private static async Task<List<int>> DekIdsAsync(string db)
    {
        var ids = new List<int>();
        await using var connection = new NpgsqlConnection(db);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT full_name, email, ssn, notes FROM patients", connection);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            for (int i = 0; i < reader.FieldCount; i++)
            {
                if (!reader.IsDBNull(i)) ids.Add(FieldCipher.ReadHeader((byte[])reader[i]).DekId);
            }
        }
        return ids;
    }

    private static async Task AssertReadableAsync(string db, PiiEncryption encryption)
    {
        await using var context = ClinicContext.Create(db, encryption);
        var patients = await context.Patients.ToListAsync();
        Assert.Equal(Rows, patients.Count);
        Assert.All(patients, p => Assert.Equal($"Patient {p.FullName[8..]}", p.FullName));
        Assert.Equal("Patient 5", (await context.Patients.SingleAsync(p => p.Email == "p5@example.com")).FullName);
    }

    [Fact]
    public async Task Rows_move_off_a_retired_dek_in_batches_and_a_pass_resumes_where_it_stopped()
    {
        var (db, encryption, oldDek, newDek) = await SeedAndRetireAsync();
        using var _ = encryption;
        var rotator = new PiiKeyRotator(encryption);
        RotationProgress? saved = null;
        await using (var context = ClinicContext.Create(db, encryption))
        {
            // The job dies after its second batch (e.g. the host stops); it saved its cursor after each batch.
            using var stop = new CancellationTokenSource();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => rotator.RotateAsync<Patient>(context, new RotationOptions
            {
                BatchSize = 10,
                OnBatch = (progress, token) =>
                {
                    saved = progress;
                    if (progress.Examined == 20) stop.Cancel();
                    return Task.CompletedTask;
                },
            }, stop.Token));
        }
        Assert.Equal((20L, 20L), (saved!.Examined, saved.Moved));
        var halfway = await DekIdsAsync(db);
        Assert.Contains(oldDek, halfway);
        Assert.Contains(newDek, halfway);

        await using (var context = ClinicContext.Create(db, encryption))
        {
            var rest = await rotator.RotateAsync<Patient>(context, new RotationOptions { BatchSize = 10, StartAfter = saved.LastKey });
            Assert.True(rest.Completed);
            Assert.Equal((25L, 25L, 0L), (rest.Examined, rest.Moved, rest.Conflicts));
            var again = await rotator.RotateAsync<Patient>(context);
            Assert.Equal((45L, 0L), (again.Examined, again.Moved));
        }
        Assert.All(await DekIdsAsync(db), id => Assert.Equal(newDek, id));
        await AssertReadableAsync(db, encryption);
    }

    [Fact]
    public async Task Concurrent_rotators_move_each_row_once_and_lose_no_write()
    {
        var (db, encryption, _, newDek) = await SeedAndRetireAsync();
        using var __ = encryption;
        var rotator = new PiiKeyRotator(encryption);
        await using var first = ClinicContext.Create(db, encryption);
        await using var second = ClinicContext.Create(db, encryption);
        await using var application = ClinicContext.Create(db, encryption);
        var changed = await application.Patients.SingleAsync(p => p.Email == "p30@example.com");
        var passes = new[]
        {
            rotator.RotateAsync<Patient>(first, new RotationOptions { BatchSize = 7 }),
            rotator.RotateAsync<Patient>(second, new RotationOptions { BatchSize = 5 }),
        };
        // The application writes while the rotators run: its value must survive whichever order the writes land in.
        changed.Email = "changed@example.com";
        Task write = application.SaveChangesAsync();
        await Task.WhenAll([write, .. passes]);
        var results = await Task.WhenAll(passes);
        // A row the application changed between a rotator's read and write was skipped (a conflict): the next pass takes it.
        var final = await rotator.RotateAsync<Patient>(first);

        Assert.Equal(Rows, results.Sum(r => r.Moved) + final.Moved);
        Assert.Equal(0, final.Conflicts);
        Assert.All(await DekIdsAsync(db), id => Assert.Equal(newDek, id));
        await using var reader = ClinicContext.Create(db, encryption);
        Assert.Equal("Patient 30", (await reader.Patients.SingleAsync(p => p.Email == "changed@example.com")).FullName);
        Assert.Equal(Rows, await reader.Patients.CountAsync());
    }
}
