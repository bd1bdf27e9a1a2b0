extern alias documentservice;

using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Pii.Crypto.Fields;
using Pii.Crypto.Tiers;
using DocumentStore = documentservice::Pii.DocumentService.Documents.DocumentStore;
using PatientRecords = documentservice::Pii.DocumentService.Patients.PatientRecords;

namespace Pii.DocumentService.Tests;

/// <summary>
/// Records are bound to their ciphertexts (issue 10, item 4): a document row moved to another patient, a patient field
/// ciphertext copied into another patient and blind-index values copied between patients are all caught, answered as
/// integrity failures (502, stable type) or left out of a list (and counted), never shown as another record's data.
/// </summary>
[Collection(DocumentServiceGroup.Name)]
public sealed class RecordBindingTests(DocumentServiceFixture fixture)
{
    private const string IntegrityFailureType = "urn:piiaspire:problem:integrity-failure";

    private IServiceProvider Services => fixture.Factory.Services;

    [Fact]
    public async Task A_document_row_moved_to_another_patient_is_neither_listed_nor_downloaded_as_that_patients()
    {
        var owner = await fixture.CreatePatientAsync();
        var other = await fixture.CreatePatientAsync();
        var content = RandomNumberGenerator.GetBytes(1000);
        var id = await fixture.UploadOkAsync(owner, content, "owner-scan.pdf");
        var kept = await fixture.UploadOkAsync(other, [1, 2, 3], "other-scan.pdf");
        await using var connection = new NpgsqlConnection(fixture.Settings["ConnectionStrings:records"]);
        await connection.ExecuteAsync("UPDATE documents.documents SET patient_id = @other WHERE id = @id", new { other, id });

        using var client = fixture.Client();
        using (var download = await client.GetAsync($"/api/documents/{id}"))
        {
            await AssertIntegrityFailureAsync(download, "document");
        }
        using (var ranged = new HttpRequestMessage(HttpMethod.Get, $"/api/documents/{id}"))
        {
            ranged.Headers.TryAddWithoutValidation("Range", "bytes=0-9");
            using var response = await client.SendAsync(ranged);
            await AssertIntegrityFailureAsync(response, "document");
        }
        using (var metadata = await client.GetAsync($"/api/documents/{id}/metadata"))
        {
            await AssertIntegrityFailureAsync(metadata, "document");
        }
        using (var list = await client.GetAsync($"/api/patients/{other}/documents"))
        {
            Assert.Equal(HttpStatusCode.OK, list.StatusCode);
            Assert.Equal([kept], Ids(await list.Content.ReadFromJsonAsync<JsonArray>()));
            Assert.Equal("1", Assert.Single(list.Headers.GetValues("X-Integrity-Failures")));
        }
        using (var search = await client.GetAsync($"/api/documents?patientId={other}&fileName=owner-scan.pdf"))
        {
            Assert.Empty(Ids(await search.Content.ReadFromJsonAsync<JsonArray>()));
            Assert.Equal("1", Assert.Single(search.Headers.GetValues("X-Integrity-Failures")));
        }
        Assert.Equal(["document.list", "document.search"], await connection.QueryAsync<string>(
            "SELECT action FROM documents.access_log WHERE document_id = @id AND outcome = 'integrity failure' ORDER BY id", new { id }));

        // Moved back, it is whole again: nothing was lost.
        await connection.ExecuteAsync("UPDATE documents.documents SET patient_id = @owner WHERE id = @id", new { owner, id });
        Assert.Equal(content, await client.GetByteArrayAsync($"/api/documents/{id}"));
    }

    [Fact]
    public async Task A_patient_field_ciphertext_copied_into_another_patient_does_not_decrypt_there()
    {
        var a = await fixture.CreatePatientAsync(fullName: "Katherine Johnson");
        var b = await fixture.CreatePatientAsync(fullName: "Christine Darden");
        await using var connection = new NpgsqlConnection(fixture.Settings["ConnectionStrings:records"]);
        using var client = fixture.Client();
        var before = await client.GetFromJsonAsync<JsonObject>($"/api/patients/{b}");

        foreach (var column in new[] { "mrn", "full_name", "date_of_birth", "address", "diagnosis_codes" })
        {
            var original = await connection.ExecuteScalarAsync<byte[]>($"SELECT {column} FROM documents.patients WHERE id = @b", new { b });
            await connection.ExecuteAsync($"UPDATE documents.patients SET {column} = (SELECT {column} FROM documents.patients WHERE id = @a) WHERE id = @b", new { a, b });
            using (var read = await client.GetAsync($"/api/patients/{b}"))
            {
                await AssertIntegrityFailureAsync(read, "patient record");
            }
            await connection.ExecuteAsync($"UPDATE documents.patients SET {column} = @original WHERE id = @b", new { original, b });
        }
        await connection.ExecuteAsync("UPDATE documents.patients SET ssn = (SELECT ssn FROM documents.patients WHERE id = @a) WHERE id = @b", new { a, b });
        using var admin = fixture.Client(DocumentServiceFixture.AdminKey);
        using (var reveal = await admin.PostAsJsonAsync($"/api/patients/{b}/reveal", new { reason = "Checking a billing dispute" }))
        {
            await AssertIntegrityFailureAsync(reveal, "patient record");
        }
        Assert.Equal(before!.ToJsonString(), (await client.GetFromJsonAsync<JsonObject>($"/api/patients/{b}"))!.ToJsonString());
    }

    [Fact]
    public async Task Blind_index_values_copied_into_another_patient_do_not_make_it_a_search_hit()
    {
        var tag = Convert.ToHexString(RandomNumberGenerator.GetBytes(4));
        var name = "Mae Jemison " + tag;
        var a = await fixture.CreatePatientAsync(fullName: name, ssn: "219-09-" + Random.Shared.Next(1000, 9999), codes: ["Z99.89"]);
        var mrnOfB = "MRN-C" + tag;
        var b = await fixture.CreatePatientAsync(mrn: mrnOfB, fullName: "Ellen Ochoa " + tag, ssn: "321-54-9876", codes: ["J45.909"]);
        await using var connection = new NpgsqlConnection(fixture.Settings["ConnectionStrings:records"]);
        await connection.ExecuteAsync("""
            UPDATE documents.patients SET full_name_index = s.full_name_index, ssn_index = s.ssn_index, ssn_last4_index = s.ssn_last4_index
            FROM (SELECT full_name_index, ssn_index, ssn_last4_index FROM documents.patients WHERE id = @a) s WHERE id = @b;
            INSERT INTO documents.patient_diagnoses (patient_id, code_index) SELECT @b, code_index FROM documents.patient_diagnoses WHERE patient_id = @a;
            """, new { a, b });
        var ssn = await RevealedSsnAsync(a);

        using var client = fixture.Client();
        foreach (var query in new[]
        {
            "name=" + Uri.EscapeDataString(name.ToUpperInvariant()),
            "ssn=" + ssn,
            "ssnLast4=" + ssn[^4..] + "&name=" + Uri.EscapeDataString(name),
            "diagnosis=z99.89&name=" + Uri.EscapeDataString(name),
        })
        {
            using var response = await client.GetAsync("/api/patients?" + query);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal([a], Ids(await response.Content.ReadFromJsonAsync<JsonArray>()));
            Assert.Equal("1", Assert.Single(response.Headers.GetValues("X-Integrity-Failures")));
        }
        using (var byB = await client.GetAsync("/api/patients?diagnosis=J45.909&mrn=" + mrnOfB))
        {
            Assert.Equal([b], Ids(await byB.Content.ReadFromJsonAsync<JsonArray>()));
        }
    }

    [Fact]
    public async Task Rows_stored_before_the_binding_are_read_checked_and_rebound_at_start()
    {
        var ct = CancellationToken.None;
        var protector = Services.GetRequiredService<TieredFieldProtector>();
        await using var connection = new NpgsqlConnection(fixture.Settings["ConnectionStrings:records"]);
        var mrn = "MRN-B" + Random.Shared.Next(100000, 999999);
        var patient = await fixture.CreatePatientAsync(mrn: mrn, fullName: "Valerie Thomas");
        var other = await fixture.CreatePatientAsync();
        var document = await fixture.UploadOkAsync(patient, [7, 7, 7], "legacy.pdf");
        var moved = await fixture.UploadOkAsync(patient, [8, 8, 8], "legacy-moved.pdf");

        // As the previous version stored them: the MRN bound to no record, file names bound to the document only.
        await connection.ExecuteAsync("UPDATE documents.patients SET mrn = @legacy, field_binding = 1 WHERE id = @patient", new
        {
            patient,
            legacy = await protector.ProtectAsync(PatientRecords.Purpose, FieldMode.Deterministic, Encoding.UTF8.GetBytes(mrn), new FieldContext("patients", "mrn", "")),
        });
        foreach (var (id, name) in new[] { (document, "legacy.pdf"), (moved, "legacy-moved.pdf") })
        {
            await connection.ExecuteAsync("UPDATE documents.documents SET file_name = @legacy, field_binding = 1 WHERE id = @id", new
            {
                id,
                legacy = await protector.ProtectAsync(DocumentStore.Purpose, FieldMode.Randomized, Encoding.UTF8.GetBytes(name), new FieldContext("documents", "file_name", id.ToString())),
            });
        }
        await connection.ExecuteAsync("UPDATE documents.documents SET patient_id = @other WHERE id = @moved", new { other, moved });

        using var client = fixture.Client();
        Assert.Equal(mrn, (await client.GetFromJsonAsync<JsonObject>($"/api/patients/{patient}"))!["mrn"]!.GetValue<string>());
        Assert.Equal([document], Ids(await client.GetFromJsonAsync<JsonArray>($"/api/patients/{patient}/documents")));
        using (var list = await client.GetAsync($"/api/patients/{other}/documents"))
        {
            Assert.Empty(Ids(await list.Content.ReadFromJsonAsync<JsonArray>()));
            Assert.Equal("1", Assert.Single(list.Headers.GetValues("X-Integrity-Failures")));
        }

        var unbound = new List<Guid>();
        unbound.AddRange(await Services.GetRequiredService<PatientRecords>().RebindMrnsAsync(batchSize: 1, ct));
        unbound.AddRange(await Services.GetRequiredService<DocumentStore>().RebindFileNamesAsync(batchSize: 1, ct));
        Assert.Equal([moved], unbound);
        Assert.Equal(2, await connection.ExecuteScalarAsync<short>("SELECT field_binding FROM documents.patients WHERE id = @patient", new { patient }));
        Assert.Equal(2, await connection.ExecuteScalarAsync<short>("SELECT field_binding FROM documents.documents WHERE id = @document", new { document }));
        Assert.Equal(1, await connection.ExecuteScalarAsync<short>("SELECT field_binding FROM documents.documents WHERE id = @moved", new { moved }));
        Assert.Equal(mrn, (await client.GetFromJsonAsync<JsonObject>($"/api/patients/{patient}"))!["mrn"]!.GetValue<string>());
        var listed = await client.GetFromJsonAsync<JsonArray>($"/api/patients/{patient}/documents");
        Assert.Equal("legacy.pdf", Assert.Single(listed!)!["fileName"]!.GetValue<string>());

        // An unbound MRN copied from another patient is caught by that row's own MRN index.
        var original = await connection.ExecuteScalarAsync<byte[]>("SELECT mrn FROM documents.patients WHERE id = @other", new { other });
        await connection.ExecuteAsync("UPDATE documents.patients SET field_binding = 1, mrn = @copied WHERE id = @other", new
        {
            other,
            copied = await protector.ProtectAsync(PatientRecords.Purpose, FieldMode.Deterministic, Encoding.UTF8.GetBytes(mrn), new FieldContext("patients", "mrn", "")),
        });
        using (var read = await client.GetAsync($"/api/patients/{other}"))
        {
            await AssertIntegrityFailureAsync(read, "patient record");
        }
        await connection.ExecuteAsync("UPDATE documents.patients SET field_binding = 2, mrn = @original WHERE id = @other", new { other, original });
        await connection.ExecuteAsync("DELETE FROM documents.documents WHERE id = @moved", new { moved });
    }

    private async Task<string> RevealedSsnAsync(Guid id)
    {
        using var admin = fixture.Client(DocumentServiceFixture.AdminKey);
        using var response = await admin.PostAsJsonAsync($"/api/patients/{id}/reveal", new { reason = "Test set-up reads the SSN" });
        return (await response.Content.ReadFromJsonAsync<JsonObject>())!["ssn"]!.GetValue<string>();
    }

    private static List<Guid> Ids(JsonArray? array) => [.. (array ?? []).Select(p => Guid.Parse(p!["id"]!.GetValue<string>()))];

    internal static async Task AssertIntegrityFailureAsync(HttpResponseMessage response, string what)
    {
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonObject>();
        Assert.Equal(IntegrityFailureType, problem!["type"]!.GetValue<string>());
        Assert.Contains(what, problem["title"]!.GetValue<string>(), StringComparison.Ordinal);
        // Nothing but the problem's own members: no part of the record, no exception text.
        Assert.All(problem.Select(p => p.Key), key => Assert.Contains(key, new[] { "type", "title", "status", "traceId" }));
    }
}
