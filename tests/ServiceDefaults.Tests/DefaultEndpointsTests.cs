using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Pii.ServiceDefaults.Tests;

public sealed class DefaultEndpointsTests
{
    private static async Task<(WebApplication App, HttpClient Client)> StartAsync(string environment, Dictionary<string, string>? settings = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = environment });
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        foreach (var (key, value) in settings ?? [])
        {
            builder.Configuration[key] = value;
        }
        builder.AddServiceDefaults();
        var app = builder.Build();
        app.MapDefaultEndpoints();
        await app.StartAsync();
        return (app, new HttpClient { BaseAddress = new Uri(app.Urls.First()) });
    }

    [Fact]
    public async Task Health_and_alive_are_mapped_in_development()
    {
        var (app, client) = await StartAsync(Environments.Development);
        await using var _ = app;
        using var __ = client;

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health")).StatusCode);
        Assert.Equal("Healthy", await client.GetStringAsync("/alive"));
    }

    [Fact]
    public async Task Health_endpoints_are_not_exposed_outside_development()
    {
        var (app, client) = await StartAsync(Environments.Production);
        await using var _ = app;
        using var __ = client;

        var response = await client.GetAsync("/health");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }
}
