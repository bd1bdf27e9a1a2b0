using Pii.Testing;

namespace Pii.DocumentService.Tests;

[Collection(DocumentServiceGroup.Name)]
public sealed class OpenApiTests(DocumentServiceFixture fixture)
{
    [Fact]
    public async Task Every_endpoint_is_in_the_OpenAPI_document_with_schemas_problems_and_the_api_key_scheme()
    {
        using var client = fixture.Client();

        var document = await OpenApiCoverage.AssertEveryEndpointDocumentedAsync(fixture.Factory.Services, client);

        var create = OpenApiCoverage.Operation(document, "POST", "/api/patients");
        Assert.True(OpenApiCoverage.RequiresApiKey(create));
        Assert.True(create.TryGetProperty("requestBody", out _));
        var problem = create.GetProperty("responses").GetProperty("403").GetProperty("content").GetProperty("application/problem+json").GetProperty("schema");
        if (problem.TryGetProperty("$ref", out var reference))
        {
            problem = document.GetProperty("components").GetProperty("schemas").GetProperty(reference.GetString()!.Split('/')[^1]);
        }
        Assert.True(problem.GetProperty("properties").TryGetProperty("status", out _));
        Assert.True(problem.GetProperty("properties").TryGetProperty("title", out _));
        using var docs = await client.GetAsync("/docs");
        docs.EnsureSuccessStatusCode();
        Assert.Equal("text/html", docs.Content.Headers.ContentType?.MediaType);
    }
}
