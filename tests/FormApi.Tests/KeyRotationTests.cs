extern alias formapi;

using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using MySqlConnector;
using Pii.Crypto.Fields;
using Pii.Crypto.Keys;
using Pii.Testing;
using KeyOperations = formapi::Pii.FormApi.Keys.KeyOperations;
using ReencryptionJobs = formapi::Pii.FormApi.Keys.ReencryptionJobs;
using DncIntake = formapi::Pii.FormApi.Domain.DncIntake;

namespace Pii.FormApi.Tests;

[Collection(FormApiGroup.Name)]
public sealed class KeyRotationTests(FormApiFixture fixture)
{
    [Fact]
    public async Task Kek_rotation_rewraps_every_stored_DEK_and_touches_no_data_row()
    {
        var id = await fixture.SubmitAsync(FormApiFixture.SeedBody(FormApiFixture.UniquePhone()));
        await using var owner = await fixture.OpenOwnerAsync();
        var rowsBefore = await DataFingerprintAsync(owner);
        var keysBefore = (await owner.QueryAsync<(int Id, int Version, string Wrapped)>(
            "SELECT id, kek_version, wrapped_dek FROM encryption_keys WHERE destroyed_at IS NULL ORDER BY id")).ToList();

        using var admin = fixture.BackofficeClient("admin");
        using var response = await admin.PostAsync("/api/keys/rotate-kek", null);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var report = await response.Content.ReadFromJsonAsync<JsonElement>();
        int version = report.GetProperty("kek_version").GetInt32();
        Assert.True(version > keysBefore.Max(k => k.Version));
        Assert.Equal(keysBefore.Count, report.GetProperty("rewrapped").GetInt32());
        Assert.Equal(0, report.GetProperty("failed").GetInt32());

        var keysAfter = (await owner.QueryAsync<(int Id, int Version, string Wrapped)>(
            "SELECT id, kek_version, wrapped_dek FROM encryption_keys WHERE destroyed_at IS NULL ORDER BY id")).ToList();
        Assert.Equal(keysBefore.Select(k => k.Id), keysAfter.Select(k => k.Id));
        Assert.All(keysAfter, k => Assert.Equal(version, k.Version));
        Assert.All(keysAfter, k => Assert.StartsWith($"vault:v{version}:", k.Wrapped, StringComparison.Ordinal));
        Assert.Equal(rowsBefore, await DataFingerprintAsync(owner));

        // A fresh back office (empty DEK cache) unwraps the rewrapped DEKs; the intake keeps storing.
        using var fresh = fixture.CreateBackoffice(new Dictionary<string, string> { ["FormApi:ReencryptionInBackground"] = "false" });
        using var supervisor = fresh.CreateClient();
        supervisor.DefaultRequestHeaders.Add("X-Api-Key", fixture.ApiKeys["supervisor"]);
        var record = await supervisor.GetFromJsonAsync<JsonElement>($"/api/dnc/{id}?reveal=true&reason=kek%20rotation%20check");
        Assert.Equal("Alice", record.GetProperty("first_name").GetString());
        await fixture.SubmitAsync(FormApiFixture.SeedBody(FormApiFixture.UniquePhone()));

        // Repeating the rewrap is a no-op.
        using var again = await admin.PostAsync("/api/keys/rotate-kek", null);
        var second = await again.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(version + 1, second.GetProperty("kek_version").GetInt32());
    }

    [Fact]
    public async Task Dek_rotation_retires_keys_the_background_job_reencrypts_every_row_and_old_DEKs_can_be_destroyed()
    {
        var ids = new List<Guid>();
        for (int i = 0; i < 5; i++)
        {
            ids.Add(await fixture.SubmitAsync(FormApiFixture.SeedBody(FormApiFixture.UniquePhone())));
        }
        using var worker = fixture.CreateBackoffice(new Dictionary<string, string> { ["FormApi:ReencryptionBatchSize"] = "2" });
        using var admin = worker.CreateClient();
        admin.DefaultRequestHeaders.Add("X-Api-Key", fixture.ApiKeys["admin"]);

        using var response = await admin.PostAsync("/api/keys/rotate-dek", null);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var report = await response.Content.ReadFromJsonAsync<JsonElement>();
        var jobId = report.GetProperty("job_id").GetGuid();
        int newDek = report.GetProperty("new_dek_id").GetInt32();
        var retired = report.GetProperty("retired_dek_ids").EnumerateArray().Select(e => e.GetInt32()).ToList();
        Assert.NotEmpty(retired);
        Assert.Equal($"/api/keys/jobs/{jobId}", response.Headers.Location?.OriginalString);

        // The intake's cached DEK is now retired: its guarded INSERT stores nothing and the intake takes a fresh one.
        var afterRotation = await fixture.SubmitAsync(FormApiFixture.SeedBody(FormApiFixture.UniquePhone()));
        await using var owner = await fixture.OpenOwnerAsync();
        var newRowDek = await owner.ExecuteScalarAsync<int>("SELECT dek_id FROM dnc_preferences WHERE id = @id", new { id = afterRotation.ToByteArray(bigEndian: true) });
        Assert.DoesNotContain(newRowDek, retired);

        var job = await Eventually.WaitForValueAsync(async () =>
        {
            var state = await admin.GetFromJsonAsync<JsonElement>($"/api/keys/jobs/{jobId}");
            return state.GetProperty("status").GetString() == "completed" ? (JsonElement?)state : null;
        }, "the re-encryption job to complete", TimeSpan.FromSeconds(60));
        Assert.Equal(0, job.GetProperty("rows_remaining").GetInt64());
        Assert.True(job.GetProperty("rows_reencrypted").GetInt64() >= ids.Count);

        Assert.Equal(0, await owner.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM dnc_preferences WHERE dek_id IN @retired", new { retired }));
        using var supervisor = worker.CreateClient();
        supervisor.DefaultRequestHeaders.Add("X-Api-Key", fixture.ApiKeys["supervisor"]);
        foreach (var id in ids)
        {
            var record = await supervisor.GetFromJsonAsync<JsonElement>($"/api/dnc/{id}?reveal=true&reason=dek%20rotation%20check");
            Assert.Equal("Alice", record.GetProperty("first_name").GetString());
            Assert.Equal(newDek, await owner.ExecuteScalarAsync<int>("SELECT dek_id FROM dnc_preferences WHERE id = @id", new { id = id.ToByteArray(bigEndian: true) }));
        }

        using var active = await admin.PostAsync($"/api/keys/deks/{newDek}/destroy", null);
        Assert.Equal(HttpStatusCode.Conflict, active.StatusCode);
        foreach (var dek in retired)
        {
            using var destroyed = await admin.PostAsync($"/api/keys/deks/{dek}/destroy", null);
            Assert.Equal(HttpStatusCode.OK, destroyed.StatusCode);
            var row = await owner.QueryFirstAsync<(string Wrapped, DateTime? DestroyedAt)>("SELECT wrapped_dek, destroyed_at FROM encryption_keys WHERE id = @dek", new { dek });
            Assert.Equal("", row.Wrapped);
            Assert.NotNull(row.DestroyedAt);
        }
        Assert.Equal(retired.Count, await owner.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM pii_access_log WHERE action = 'destroy-dek' AND outcome = 'destroyed' AND fields IN @names",
            new { names = retired.Select(d => $"dek:{d}").ToList() }));
        // The worker had the retired DEKs cached for the job: destruction drops them, so none can be leased again.
        var deks = worker.Services.GetRequiredService<DekManager>();
        foreach (var dek in retired)
        {
            var gone = await Record.ExceptionAsync(async () => (await deks.LeaseKeyAsync(dek)).Dispose());
            Assert.NotNull(gone);
            Assert.IsNotType<InvalidOperationException>(gone);
        }
    }

    [Fact]
    public async Task Dek_reencryption_job_resumes_after_a_crash_and_keeps_concurrent_changes()
    {
        for (int i = 0; i < 7; i++)
        {
            await fixture.SubmitAsync(FormApiFixture.SeedBody(FormApiFixture.UniquePhone()));
        }
        var keys = fixture.Backoffice.Services.GetRequiredService<KeyOperations>();
        var jobs = fixture.Backoffice.Services.GetRequiredService<ReencryptionJobs>();
        var rotation = await keys.RotateDekAsync(CancellationToken.None);
        await using var owner = await fixture.OpenOwnerAsync();
        var sources = (await jobs.GetAsync(rotation.JobId, CancellationToken.None))!.SourceDekIds;
        long underSources = await owner.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM dnc_preferences WHERE dek_id IN @sources", new { sources });
        Assert.True(underSources >= 7);

        // Nothing can be stored under a retired DEK any more (the intake's guarded INSERT stores nothing), so the job's
        // scan is complete; under the new DEK the same statement stores its row.
        await using (var intakeDb = new MySqlConnection(fixture.IntakeDb.Resource.ConnectionString))
        {
            await intakeDb.OpenAsync();
            Task<int> GuardedInsertAsync(int dek) => intakeDb.ExecuteAsync(DncIntake.GuardedInsert, new
            {
                id = RandomNumberGenerator.GetBytes(16), first = new byte[] { 0 }, middle = (byte[]?)null, last = new byte[] { 0 }, phone = new byte[] { 0 },
                email = new byte[] { 0 }, phone_bidx = new byte[16], email_bidx = new byte[16], phone_dnc = false, email_dnc = false, dek, now = DateTime.UtcNow,
            });
            Assert.Equal(0, await GuardedInsertAsync(sources[^1]));
            Assert.Equal(1, await GuardedInsertAsync(rotation.NewDekId));
        }

        Assert.False(await jobs.RunAsync(rotation.JobId, maxBatches: 1, CancellationToken.None));
        var partial = (await jobs.GetAsync(rotation.JobId, CancellationToken.None))!;
        Assert.Equal("running", partial.Status);
        Assert.Equal(3, partial.RowsReencrypted);
        Assert.Equal(underSources - 3, partial.RowsRemaining);

        // A concurrent change to a row still under a retired DEK.
        var pending = await owner.QueryFirstAsync<(byte[] Id, int Version)>(
            "SELECT id, row_version FROM dnc_preferences WHERE dek_id IN @sources ORDER BY id DESC LIMIT 1", new { sources });
        var pendingId = new Guid(pending.Id, bigEndian: true);
        using var agent = fixture.BackofficeClient("agent");
        var patch = new HttpRequestMessage(HttpMethod.Patch, $"/api/dnc/{pendingId}") { Content = FormApiFixture.Json("""{"email_dnc":true}""") };
        patch.Headers.TryAddWithoutValidation("If-Match", $"\"{pending.Version}\"");
        (await agent.SendAsync(patch)).EnsureSuccessStatusCode();

        // "Crash": a new process (fresh DEK cache, fresh job runner) resumes from the committed cursor.
        using var restarted = fixture.CreateBackoffice(new Dictionary<string, string> { ["FormApi:ReencryptionInBackground"] = "false", ["FormApi:ReencryptionBatchSize"] = "3" });
        var resumed = restarted.Services.GetRequiredService<ReencryptionJobs>();
        Assert.True(await resumed.RunAsync(rotation.JobId, maxBatches: null, CancellationToken.None));

        var done = (await resumed.GetAsync(rotation.JobId, CancellationToken.None))!;
        Assert.Equal("completed", done.Status);
        Assert.Equal(0, done.RowsRemaining);
        Assert.Equal(underSources, done.RowsReencrypted);
        var record = await agent.GetFromJsonAsync<JsonElement>($"/api/dnc/{pendingId}");
        Assert.True(record.GetProperty("email_dnc").GetBoolean());
        Assert.Equal(pending.Version + 2, record.GetProperty("row_version").GetInt32());
        Assert.Equal(rotation.NewDekId, await owner.ExecuteScalarAsync<int>("SELECT dek_id FROM dnc_preferences WHERE id = @id", new { id = pending.Id }));
    }

    [Fact]
    public async Task Dek_reencryption_job_writes_large_batches_in_parallel_and_every_row_decrypts_to_what_was_submitted()
    {
        // 700 rows in batches of 520: full prepared chunks and remainders, two batches written at once.
        var submitted = new Dictionary<Guid, string>();
        foreach (var group in Enumerable.Range(0, 700).Chunk(20))
        {
            var phones = group.Select(_ => FormApiFixture.UniquePhone()).ToArray();
            var ids = await Task.WhenAll(phones.Select(phone => fixture.SubmitAsync(FormApiFixture.SeedBody(phone, email: $"p{phone[1..]}@example.com"))));
            for (int i = 0; i < ids.Length; i++) submitted[ids[i]] = phones[i];
        }
        using var worker = fixture.CreateBackoffice(new Dictionary<string, string>
        {
            ["FormApi:ReencryptionInBackground"] = "false", ["FormApi:ReencryptionBatchSize"] = "520", ["FormApi:ReencryptionWriters"] = "2",
        });
        var rotation = await worker.Services.GetRequiredService<KeyOperations>().RotateDekAsync(CancellationToken.None);
        var jobs = worker.Services.GetRequiredService<ReencryptionJobs>();
        await using var owner = await fixture.OpenOwnerAsync();
        var sources = (await jobs.GetAsync(rotation.JobId, CancellationToken.None))!.SourceDekIds;
        long underSources = await owner.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM dnc_preferences WHERE dek_id IN @sources", new { sources });

        Assert.True(await jobs.RunAsync(rotation.JobId, maxBatches: null, CancellationToken.None));

        var done = (await jobs.GetAsync(rotation.JobId, CancellationToken.None))!;
        Assert.Equal(underSources, done.RowsReencrypted);
        Assert.Equal(0, done.RowsSkipped);
        var rows = (await owner.QueryAsync<(byte[] Id, byte[] First, byte[]? Middle, byte[] Phone, byte[] Email, int Dek)>(
            "SELECT id, first_name, middle_name, phone, email, dek_id FROM dnc_preferences WHERE id IN @ids",
            new { ids = submitted.Keys.Select(id => id.ToByteArray(bigEndian: true)).ToList() })).ToList();
        Assert.Equal(submitted.Count, rows.Count);
        using var key = await worker.Services.GetRequiredService<DekManager>().LeaseKeyAsync(rotation.NewDekId);
        foreach (var row in rows)
        {
            Assert.Equal(rotation.NewDekId, row.Dek);
            var id = new Guid(row.Id, bigEndian: true);
            string? Open(string column, byte[]? value) => FieldCipher.DecryptString(key.Key, value, new FieldContext("dnc_preferences", column, id.ToString("D")));
            Assert.Equal("Alice", Open("first_name", row.First));
            Assert.Equal("M", Open("middle_name", row.Middle));
            Assert.Equal(submitted[id], Open("phone", row.Phone));
            Assert.Equal($"p{submitted[id][1..]}@example.com", Open("email", row.Email));
        }
    }

    /// <summary>SHA-256 over every data column of every row, in id order.</summary>
    private static async Task<string> DataFingerprintAsync(MySqlConnection connection)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        await using var command = new MySqlCommand(
            "SELECT id, first_name, COALESCE(middle_name, ''), last_name, phone, email, phone_bidx, email_bidx, phone_dnc, email_dnc, dek_id, row_version FROM dnc_preferences ORDER BY id", connection);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            for (int i = 0; i < reader.FieldCount; i++)
            {
                hash.AppendData(reader.GetValue(i) is byte[] bytes ? bytes : System.Text.Encoding.UTF8.GetBytes(Convert.ToString(reader.GetValue(i), System.Globalization.CultureInfo.InvariantCulture)!));
            }
        }
        return Convert.ToHexString(hash.GetHashAndReset());
    }
}
