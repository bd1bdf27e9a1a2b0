extern alias documentservice;

using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Pii.Crypto.Fields;
using Pii.Crypto.Keys;
using Pii.Crypto.Tiers;
using DocumentKeys = documentservice::Pii.DocumentService.Keys.DocumentKeys;
using PatientRecords = documentservice::Pii.DocumentService.Patients.PatientRecords;
using DocumentStore = documentservice::Pii.DocumentService.Documents.DocumentStore;
using Schema = documentservice::Pii.DocumentService.Data.Schema;

namespace Pii.DocumentService.Tests;

/// <summary>
/// MRN search and uniqueness survive the replacement of the patients DEK (issue 6), and databases made before the MRN
/// blind index are upgraded at start without losing a row.
/// </summary>
[Collection(DocumentServiceGroup.Name)]
public sealed class MrnIndexTests(DocumentServiceFixture fixture)
{
    private IServiceProvider Services => fixture.Factory.Services;

    [Fact]
    public async Task Mrn_search_and_uniqueness_hold_after_the_patients_dek_is_replaced()
    {
        var mrn = "MRN-K" + Random.Shared.Next(100000, 999999);
        var a = await fixture.CreatePatientAsync(mrn: mrn, fullName: "Mary Jackson");
        await using var connection = new NpgsqlConnection(fixture.Settings["ConnectionStrings:records"]);
        var dekOfA = await MrnDekIdAsync(connection, a);

        // The service's own DekManager retires the active patients DEK in documents.deks and makes a new one.
        var fresh = await Services.GetRequiredService<DekManager>().RotateAsync(PatientRecords.Purpose);
        Assert.NotEqual(dekOfA, fresh.Id);
        Assert.NotNull(await connection.ExecuteScalarAsync<DateTime?>("SELECT retired_at FROM documents.deks WHERE id = @dekOfA", new { dekOfA }));
        var b = await fixture.CreatePatientAsync(fullName: "Dorothy Vaughan");
        Assert.Equal(fresh.Id, await MrnDekIdAsync(connection, b));

        using var client = fixture.Client();
        var found = await client.GetFromJsonAsync<JsonArray>("/api/patients?mrn=" + Uri.EscapeDataString(" " + mrn.ToLowerInvariant() + " "));
        Assert.Equal([a], found!.Select(p => Guid.Parse(p!["id"]!.GetValue<string>())));
        Assert.Equal(mrn, found![0]!["mrn"]!.GetValue<string>());

        using var duplicate = await client.PostAsJsonAsync("/api/patients", new { mrn = mrn.ToLowerInvariant(), fullName = "Someone Else" });
        Assert.Equal(HttpStatusCode.Conflict, duplicate.StatusCode);
        Assert.Equal("application/problem+json", duplicate.Content.Headers.ContentType!.MediaType);
        Assert.Equal(1, await connection.ExecuteScalarAsync<int>(
            "SELECT count(*) FROM documents.patients WHERE mrn_index = (SELECT mrn_index FROM documents.patients WHERE id = @a)", new { a }));

        var patient = await client.GetFromJsonAsync<JsonObject>($"/api/patients/{a}");
        Assert.Equal(mrn, patient!["mrn"]!.GetValue<string>());
        Assert.Equal("Mary Jackson", patient["fullName"]!.GetValue<string>());
    }

    [Fact]
    public async Task Start_up_backfills_rows_stored_without_an_mrn_index_and_keeps_a_duplicate_it_cannot_index()
    {
        var ct = CancellationToken.None;
        var database = Services.GetRequiredService<NpgsqlDataSource>();
        var records = Services.GetRequiredService<PatientRecords>();
        await using var connection = new NpgsqlConnection(fixture.Settings["ConnectionStrings:records"]);
        await fixture.CreatePatientAsync(fullName: "Written By The Current Version");
        var written = (await connection.QueryAsync<(Guid Id, byte[] MrnIndex)>("SELECT id, mrn_index FROM documents.patients")).ToDictionary(r => r.Id, r => r.MrnIndex);
        // The database as the previous version left it: no index column (its unique index goes with it), unique index on the MRN ciphertext.
        await connection.ExecuteAsync("ALTER TABLE documents.patients DROP COLUMN mrn_index; CREATE UNIQUE INDEX patients_mrn ON documents.patients (mrn);");

        var mrn = "MRN-L" + Random.Shared.Next(100000, 999999);
        var legacy = await InsertLegacyPatientAsync(connection, mrn, "Annie Easley");
        // The bug being repaired: after a DEK change the old unique index lets the same MRN in a second time.
        await Services.GetRequiredService<DekManager>().RotateAsync(PatientRecords.Purpose);
        var twin = await InsertLegacyPatientAsync(connection, mrn, "Annie Easley Twin");

        Assert.Equal([twin], (await Schema.EnsureAsync(database, records, Services.GetRequiredService<DocumentStore>(), ct)).Unindexed);
        await AssertBackfilledAsync(connection, written, twin);
        // Again in batches of two: the cursor walks past the row it cannot index instead of fetching it again.
        await connection.ExecuteAsync("UPDATE documents.patients SET mrn_index = NULL");
        Assert.Equal([twin], await records.BackfillMrnIndexAsync(batchSize: 2, ct));
        await AssertBackfilledAsync(connection, written, twin);
        var index = await Services.GetRequiredService<DocumentKeys>().GetIndexKeysAsync(ct);
        Assert.Equal(index.Mrn.Compute(mrn), await connection.ExecuteScalarAsync<byte[]>("SELECT mrn_index FROM documents.patients WHERE id = @legacy", new { legacy }));
        Assert.Null(await connection.ExecuteScalarAsync<byte[]?>("SELECT mrn_index FROM documents.patients WHERE id = @twin", new { twin }));
        Assert.True(await IsNullableAsync(connection));
        Assert.True(await connection.ExecuteScalarAsync<bool>("SELECT to_regclass('documents.patients_mrn') IS NOT NULL"));

        using var client = fixture.Client();
        var found = await client.GetFromJsonAsync<JsonArray>("/api/patients?mrn=" + mrn);
        Assert.Equal([legacy], found!.Select(p => Guid.Parse(p!["id"]!.GetValue<string>())));
        var twinView = await client.GetFromJsonAsync<JsonObject>($"/api/patients/{twin}");
        Assert.Equal(mrn, twinView!["mrn"]!.GetValue<string>());

        // Once the operator has resolved the duplicate, the next start completes the upgrade.
        await connection.ExecuteAsync("DELETE FROM documents.patients WHERE id = @twin", new { twin });
        Assert.Empty((await Schema.EnsureAsync(database, records, Services.GetRequiredService<DocumentStore>(), ct)).Unindexed);
        Assert.False(await IsNullableAsync(connection));
        Assert.False(await connection.ExecuteScalarAsync<bool>("SELECT to_regclass('documents.patients_mrn') IS NOT NULL"));
        Assert.Equal(0, await connection.ExecuteScalarAsync<int>("SELECT count(*) FROM documents.patients WHERE mrn_index IS NULL"));
        var legacyView = await client.GetFromJsonAsync<JsonObject>($"/api/patients/{legacy}");
        Assert.Equal(mrn, legacyView!["mrn"]!.GetValue<string>());
    }

    /// <summary>Every row the current version wrote has the very index it wrote; every other row but the twin has one.</summary>
    private static async Task AssertBackfilledAsync(NpgsqlConnection connection, Dictionary<Guid, byte[]> written, Guid twin)
    {
        var backfilled = (await connection.QueryAsync<(Guid Id, byte[]? MrnIndex)>("SELECT id, mrn_index FROM documents.patients WHERE id <> @twin", new { twin }))
            .ToDictionary(r => r.Id, r => r.MrnIndex);
        foreach (var (id, mrnIndex) in written) Assert.Equal(mrnIndex, backfilled[id]);
        Assert.All(backfilled.Values, Assert.NotNull);
    }

    private static async Task<int> MrnDekIdAsync(NpgsqlConnection connection, Guid id) =>
        FieldCipher.ReadHeader(await connection.QuerySingleAsync<byte[]>("SELECT mrn FROM documents.patients WHERE id = @id", new { id })).DekId;

    private static Task<bool> IsNullableAsync(NpgsqlConnection connection) => connection.ExecuteScalarAsync<bool>(
        "SELECT is_nullable = 'YES' FROM information_schema.columns WHERE table_schema = 'documents' AND table_name = 'patients' AND column_name = 'mrn_index'");

    /// <summary>A patient row as the version before the MRN index wrote it (its required columns, encrypted by the service's own protector).</summary>
    private async Task<Guid> InsertLegacyPatientAsync(NpgsqlConnection connection, string mrn, string fullName)
    {
        var protector = Services.GetRequiredService<TieredFieldProtector>();
        var index = await Services.GetRequiredService<DocumentKeys>().GetIndexKeysAsync(CancellationToken.None);
        var id = Guid.CreateVersion7();
        await connection.ExecuteAsync(
            "INSERT INTO documents.patients (id, mrn, full_name, full_name_index, created_at) VALUES (@id, @mrn, @fullName, @fullNameIndex, now())",
            new
            {
                id,
                mrn = await protector.ProtectAsync(PatientRecords.Purpose, FieldMode.Deterministic, Encoding.UTF8.GetBytes(mrn), new FieldContext("patients", "mrn", "")),
                fullName = await protector.ProtectAsync(PatientRecords.Purpose, FieldMode.Randomized, Encoding.UTF8.GetBytes(fullName), new FieldContext("patients", "full_name", id.ToString())),
                fullNameIndex = index.FullName.Compute(fullName),
            });
        return id;
    }
}
