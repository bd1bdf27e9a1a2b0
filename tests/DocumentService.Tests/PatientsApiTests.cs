using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Dapper;
using Npgsql;

namespace Pii.DocumentService.Tests;

[Collection(DocumentServiceGroup.Name)]
public sealed class PatientsApiTests(DocumentServiceFixture fixture)
{
    [Fact]
    public async Task Create_then_read_masks_the_ssn_and_returns_tier_two_fields()
    {
        var id = await fixture.CreatePatientAsync(fullName: "Grace Hopper", ssn: "078-05-1120");
        using var client = fixture.Client();
        var patient = await client.GetFromJsonAsync<JsonObject>($"/api/patients/{id}");
        Assert.Equal("Grace Hopper", patient!["fullName"]!.GetValue<string>());
        Assert.Equal("1815-12-10", patient["dateOfBirth"]!.GetValue<string>());
        Assert.Equal("***-**-****", patient["ssn"]!.GetValue<string>());
        Assert.False(patient["ssnRevealed"]!.GetValue<bool>());
        Assert.Equal(["E11.9", "I10"], patient["diagnosisCodes"]!.AsArray().Select(c => c!.GetValue<string>()));
    }

    [Fact]
    public async Task Nothing_readable_is_stored_in_postgres()
    {
        var id = await fixture.CreatePatientAsync(fullName: "Unique Plaintextname", ssn: "219-09-9999");
        await using var connection = new NpgsqlConnection(fixture.Settings["ConnectionStrings:records"]);
        var row = await connection.QuerySingleAsync<(byte[] Name, byte[] Ssn, byte[] Address)>(
            "SELECT full_name, ssn, address FROM documents.patients WHERE id = @id", new { id });
        foreach (var cell in new[] { row.Name, row.Ssn, row.Address })
        {
            var text = System.Text.Encoding.Latin1.GetString(cell);
            Assert.DoesNotContain("Plaintextname", text, StringComparison.Ordinal);
            Assert.DoesNotContain("219099999", text, StringComparison.Ordinal);
            Assert.DoesNotContain("James", text, StringComparison.Ordinal);
        }
        // Tier 3 is two layers: the stored SSN is longer than a tier-2 value of the same length by a whole field header + tag.
        Assert.True(row.Ssn.Length > 9 + 2 * 16);
    }

    [Fact]
    public async Task Search_by_mrn_name_ssn_last_four_and_diagnosis()
    {
        var mrn = "MRN-S" + Random.Shared.Next(100000, 999999);
        var id = await fixture.CreatePatientAsync(mrn: mrn, fullName: "Katherine  JOHNSON", ssn: "555-12-4321", codes: ["Z99.89", "E11.9"]);
        using var client = fixture.Client();
        async Task<List<Guid>> Find(string query) =>
            (await client.GetFromJsonAsync<JsonArray>("/api/patients?" + query))!.Select(p => Guid.Parse(p!["id"]!.GetValue<string>())).ToList();

        Assert.Equal([id], await Find("mrn=" + mrn.ToLowerInvariant()));
        Assert.Contains(id, await Find("name=katherine%20johnson"));
        Assert.Contains(id, await Find("ssn=555124321"));
        Assert.Contains(id, await Find("ssnLast4=4321"));
        Assert.Contains(id, await Find("diagnosis=z99.89"));
        Assert.DoesNotContain(id, await Find("diagnosis=I10"));
        Assert.Empty(await Find("mrn=NOPE-" + mrn));
    }

    [Fact]
    public async Task Reveal_needs_records_admin_and_a_reason_and_is_logged()
    {
        var id = await fixture.CreatePatientAsync(ssn: "123-45-6789");
        using var clinician = fixture.Client();
        using var denied = await clinician.PostAsJsonAsync($"/api/patients/{id}/reveal", new { reason = "treatment follow-up call" });
        Assert.Equal(HttpStatusCode.Forbidden, denied.StatusCode);

        using var admin = fixture.Client(DocumentServiceFixture.AdminKey);
        using var noReason = await admin.PostAsJsonAsync($"/api/patients/{id}/reveal", new { reason = "x" });
        Assert.Equal(HttpStatusCode.BadRequest, noReason.StatusCode);
        Assert.Equal("application/problem+json", noReason.Content.Headers.ContentType!.MediaType);

        using var revealed = await admin.PostAsJsonAsync($"/api/patients/{id}/reveal", new { reason = "insurance claim INS-4411" });
        var patient = await revealed.Content.ReadFromJsonAsync<JsonObject>();
        Assert.Equal("123-45-6789", patient!["ssn"]!.GetValue<string>());

        using var auditor = fixture.Client(DocumentServiceFixture.AuditorKey);
        var log = await auditor.GetFromJsonAsync<JsonArray>($"/api/audit/access-log?patientId={id}&limit=1000");
        Assert.Contains(log!, e => e!["action"]!.GetValue<string>() == "patient.reveal" && e["reason"]!.GetValue<string>() == "insurance claim INS-4411"
            && e["role"]!.GetValue<string>() == "records-admin");
    }

    [Fact]
    public async Task Bad_input_and_bad_keys_are_clear_4xx()
    {
        using var client = fixture.Client();
        using var invalid = await client.PostAsJsonAsync("/api/patients", new { mrn = "bad mrn!", fullName = "", ssn = "12", diagnosisCodes = new[] { "nope" } });
        Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
        var problem = await invalid.Content.ReadFromJsonAsync<JsonObject>();
        foreach (var field in new[] { "mrn", "fullName", "ssn", "diagnosisCodes" }) Assert.NotNull(problem!["errors"]![field]);

        var mrn = "MRN-D" + Random.Shared.Next(100000, 999999);
        await fixture.CreatePatientAsync(mrn: mrn);
        using var duplicate = await client.PostAsJsonAsync("/api/patients", new { mrn, fullName = "Someone Else" });
        Assert.Equal(HttpStatusCode.Conflict, duplicate.StatusCode);

        using var missing = await client.GetAsync($"/api/patients/{Guid.NewGuid()}");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        using var notGuid = await client.GetAsync("/api/patients/not-a-guid");
        Assert.Equal(HttpStatusCode.NotFound, notGuid.StatusCode);

        using var wrongKey = fixture.Client("pii_wrong");
        using var unauthorized = await wrongKey.GetAsync($"/api/patients?mrn={mrn}");
        Assert.Equal(HttpStatusCode.Unauthorized, unauthorized.StatusCode);
        using var auditorSearch = fixture.Client(DocumentServiceFixture.AuditorKey);
        using var forbidden = await auditorSearch.GetAsync($"/api/patients?mrn={mrn}");
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
    }
}
