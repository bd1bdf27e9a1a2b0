using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Pii.Testing;

/// <summary>
/// Compares a running service's OpenAPI document with the endpoints it really maps: every route and method must be
/// documented, except the infrastructure ones (health probes, the document itself, the /docs reference).
/// </summary>
public static partial class OpenApiCoverage
{
    private static readonly string[] Infrastructure = ["/health", "/alive", "/openapi", "/docs"];

    /// <summary>Returns the document after asserting it covers every mapped endpoint and declares the X-Api-Key scheme.</summary>
    public static async Task<JsonElement> AssertEveryEndpointDocumentedAsync(IServiceProvider services, HttpClient client)
    {
        var document = await client.GetFromJsonAsync<JsonElement>("/openapi/v1.json");
        var paths = document.GetProperty("paths");
        var mapped = Mapped(services);
        Assert.NotEmpty(mapped);
        var missing = mapped
            .Where(e => !paths.TryGetProperty(e.Path, out var item) || !item.TryGetProperty(e.Method.ToLowerInvariant(), out _))
            .Select(e => $"{e.Method} {e.Path}")
            .ToList();
        Assert.True(missing.Count == 0, "Not in the OpenAPI document: " + string.Join(", ", missing));
        var scheme = document.GetProperty("components").GetProperty("securitySchemes").GetProperty("ApiKey");
        Assert.Equal("apiKey", scheme.GetProperty("type").GetString());
        Assert.Equal("header", scheme.GetProperty("in").GetString());
        Assert.Equal("X-Api-Key", scheme.GetProperty("name").GetString());
        return document;
    }

    /// <summary>The operation object of <paramref name="method"/> on <paramref name="path"/>.</summary>
    public static JsonElement Operation(JsonElement document, string method, string path) =>
        document.GetProperty("paths").GetProperty(path).GetProperty(method.ToLowerInvariant());

    /// <summary>True when the operation lists the ApiKey security requirement.</summary>
    public static bool RequiresApiKey(JsonElement operation) =>
        operation.TryGetProperty("security", out var security) && security.EnumerateArray().Any(r => r.TryGetProperty("ApiKey", out _));

    private static List<(string Method, string Path)> Mapped(IServiceProvider services)
    {
        var endpoints = new List<(string, string)>();
        foreach (var source in services.GetServices<EndpointDataSource>())
        {
            foreach (var endpoint in source.Endpoints.OfType<RouteEndpoint>())
            {
                // OpenAPI paths have no trailing slash: MapGroup("api/patients").MapPost("") is "/api/patients" there.
                var path = "/" + Parameter().Replace(endpoint.RoutePattern.RawText?.Trim('/') ?? "", "{$1}");
                if (Infrastructure.Any(p => path.Equals(p, StringComparison.OrdinalIgnoreCase) || path.StartsWith(p + "/", StringComparison.OrdinalIgnoreCase)))
                {
                    continue;
                }
                foreach (var method in endpoint.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? [])
                {
                    endpoints.Add((method, path));
                }
            }
        }
        return endpoints;
    }

    /// <summary><c>{id:guid}</c>, <c>{*rest}</c>, <c>{name?}</c> as OpenAPI writes them: <c>{id}</c>.</summary>
    [GeneratedRegex(@"\{\**([^:}=?]+)[^}]*\}")]
    private static partial Regex Parameter();
}
