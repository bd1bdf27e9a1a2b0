using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;

namespace Pii.DocumentService.Tests;

/// <summary>Malformed multipart bodies are a 400 that quotes nothing of the request (issue 10, item 9).</summary>
[Collection(DocumentServiceGroup.Name)]
public sealed class MalformedRequestTests(DocumentServiceFixture fixture)
{
    private const string Ssn = "219-09-9999";

    public static TheoryData<string, string> Bodies() => new()
    {
        // A header line without a colon, quoting an SSN.
        { "b1", $"--b1\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\nSSN {Ssn} of the patient\r\n\r\nabc\r\n--b1--\r\n" },
        // Ends before the closing boundary.
        { "b2", $"--b2\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nSSN {Ssn}" },
        // Header section longer than the 16 KiB limit.
        { "b3", $"--b3\r\nX-Long: {new string('x', 20 * 1024)}{Ssn}\r\n\r\nabc\r\n--b3--\r\n" },
    };

    [Theory]
    [MemberData(nameof(Bodies))]
    public async Task A_malformed_multipart_upload_is_a_400_naming_the_body_and_stores_nothing(string boundary, string body)
    {
        var patient = await fixture.CreatePatientAsync();
        using var client = fixture.Client();
        using var content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
        content.Headers.TryAddWithoutValidation("Content-Type", $"multipart/form-data; boundary={boundary}");
        using var response = await client.PostAsync($"/api/patients/{patient}/documents", content);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        var text = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain(Ssn, text, StringComparison.Ordinal);
        Assert.NotNull(JsonNode.Parse(text)!["errors"]!["body"]);
        Assert.Empty((await client.GetFromJsonAsync<JsonArray>($"/api/patients/{patient}/documents"))!);
        var log = Path.Combine(Path.GetTempPath(), "documentservice-tests.log");
        Assert.False(File.Exists(log) && (await File.ReadAllTextAsync(log)).Contains(Ssn, StringComparison.Ordinal));
    }
}
