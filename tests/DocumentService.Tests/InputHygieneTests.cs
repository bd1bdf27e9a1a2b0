using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Dapper;
using Npgsql;

namespace Pii.DocumentService.Tests;

/// <summary>Rough edges of input and the page (issue 10, low): SSA rules, invisible formatting, Content-Type parameters, page headers.</summary>
[Collection(DocumentServiceGroup.Name)]
public sealed class InputHygieneTests(DocumentServiceFixture fixture)
{
    [Theory]
    [InlineData("000-00-0000")]
    [InlineData("000-12-3456")]
    [InlineData("666-12-3456")]
    [InlineData("912-34-5678")]
    [InlineData("123-00-4567")]
    [InlineData("123-45-0000")]
    public async Task Ssns_the_SSA_never_issues_are_refused(string ssn)
    {
        using var client = fixture.Client();
        using var response = await client.PostAsJsonAsync("/api/patients", new { mrn = "MRN-S" + Random.Shared.Next(100000, 999999), fullName = "Grace Hopper", ssn });
        await AssertInvalidAsync(response, "ssn");
    }

    [Theory]
    [InlineData("fullName", "Grace\u202EHopper")]
    [InlineData("fullName", "Grace\u200BHopper")]
    [InlineData("address", "1 Main St\u2066 Springfield")]
    public async Task Direction_overrides_and_zero_width_characters_are_refused_in_names(string field, string value)
    {
        using var client = fixture.Client();
        var body = new JsonObject { ["mrn"] = "MRN-R" + Random.Shared.Next(100000, 999999), ["fullName"] = "Grace Hopper", [field] = value };
        using var response = await client.PostAsJsonAsync("/api/patients", body);
        await AssertInvalidAsync(response, field);
    }

    [Theory]
    [InlineData("scan\u202Efdp.exe")]
    [InlineData("scan\u200D.pdf")]
    [InlineData("\uFEFFscan.pdf")]
    public async Task Direction_overrides_and_zero_width_characters_are_refused_in_file_names(string fileName)
    {
        var patient = await fixture.CreatePatientAsync();
        using var response = await fixture.UploadAsync(patient, [1, 2, 3], fileName);
        await AssertInvalidAsync(response, "fileName");
    }

    [Fact]
    public async Task Only_the_media_type_of_an_upload_is_stored_and_returned()
    {
        var patient = await fixture.CreatePatientAsync();
        using var upload = await fixture.UploadAsync(patient, [1, 2, 3], "scan.pdf", "Application/PDF; name=\"ssn-219-09-9999.pdf\"");
        Assert.Equal(HttpStatusCode.Created, upload.StatusCode);
        var id = Guid.Parse((await upload.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<string>());
        await using var connection = new NpgsqlConnection(fixture.Settings["ConnectionStrings:records"]);
        Assert.Equal("application/pdf", await connection.ExecuteScalarAsync<string>("SELECT content_type FROM documents.documents WHERE id = @id", new { id }));
        using var client = fixture.Client();
        using var download = await client.GetAsync($"/api/documents/{id}");
        Assert.Equal("application/pdf", download.Content.Headers.ContentType!.ToString());
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/app.js")]
    [InlineData("/api/patients?mrn=x")]
    public async Task The_page_and_the_api_send_csp_frame_and_referrer_headers(string path)
    {
        using var client = fixture.Client();
        using var response = await client.GetAsync(path);
        Assert.Contains("frame-ancestors 'none'", Assert.Single(response.Headers.GetValues("Content-Security-Policy")), StringComparison.Ordinal);
        Assert.Contains("script-src 'self'", Assert.Single(response.Headers.GetValues("Content-Security-Policy")), StringComparison.Ordinal);
        Assert.Equal("DENY", Assert.Single(response.Headers.GetValues("X-Frame-Options")));
        Assert.Equal("no-referrer", Assert.Single(response.Headers.GetValues("Referrer-Policy")));
    }

    private static async Task AssertInvalidAsync(HttpResponseMessage response, string field)
    {
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonObject>();
        Assert.NotNull(problem!["errors"]![field]);
    }
}
