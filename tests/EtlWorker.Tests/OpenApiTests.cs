using Pii.Testing;

namespace Pii.EtlWorker.Tests;

[Collection(EtlServers.Name)]
public sealed class OpenApiTests(EtlFixture fixture)
{
    [Fact]
    public async Task Every_endpoint_is_in_the_OpenAPI_document_with_the_api_key_scheme_and_the_reference_is_served()
    {
        using var worker = new WorkerFactory(fixture);
        using var client = worker.CreateClient();

        var document = await OpenApiCoverage.AssertEveryEndpointDocumentedAsync(worker.Services, client);

        var check = OpenApiCoverage.Operation(document, "GET", "/api/suppression/check");
        Assert.True(OpenApiCoverage.RequiresApiKey(check));
        Assert.True(check.GetProperty("responses").TryGetProperty("401", out _));
        Assert.True(check.GetProperty("responses").TryGetProperty("503", out _));
        using var docs = await client.GetAsync("/docs");
        docs.EnsureSuccessStatusCode();
        Assert.Equal("text/html", docs.Content.Headers.ContentType?.MediaType);
    }
}
