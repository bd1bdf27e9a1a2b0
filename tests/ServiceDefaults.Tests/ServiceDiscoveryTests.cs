using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pii.ServiceDefaults.ServiceDiscovery;

namespace Pii.ServiceDefaults.Tests;

/// <summary>The rules of Microsoft.Extensions.ServiceDiscovery's configuration provider (ASPIRE-CONVENTIONS.md §1.5).</summary>
public sealed class ServiceDiscoveryTests
{
    private static ServiceEndpointResolver Resolver(Dictionary<string, string?> values, Action<ServiceDiscoveryOptions>? configure = null)
    {
        var options = new ServiceDiscoveryOptions();
        configure?.Invoke(options);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
        return new ServiceEndpointResolver(configuration, Options.Create(options));
    }

    [Fact]
    public void Plain_scheme_resolves_from_the_numbered_aspire_key()
    {
        var resolver = Resolver(new() { ["services:kms:http:0"] = "http://localhost:5123" });

        Assert.Equal(new Uri("http://localhost:5123/v1/transit/keys?x=1"), resolver.Resolve(new Uri("http://kms/v1/transit/keys?x=1")));
    }

    [Fact]
    public void Https_plus_http_prefers_https_when_both_exist()
    {
        var resolver = Resolver(new()
        {
            ["services:formapi:http:0"] = "http://localhost:5180",
            ["services:formapi:https:0"] = "https://localhost:7180",
        });

        Assert.Equal(new Uri("https://localhost:7180/dnc"), resolver.Resolve(new Uri("https+http://formapi/dnc")));
    }

    [Fact]
    public void Https_plus_http_falls_back_to_http()
    {
        var resolver = Resolver(new() { ["Services:formapi:http:0"] = "http://localhost:5180" });

        Assert.Equal(new Uri("http://localhost:5180/dnc"), resolver.Resolve(new Uri("https+http://formapi/dnc")));
    }

    [Fact]
    public void Default_section_wins_over_scheme_sections()
    {
        var resolver = Resolver(new()
        {
            ["services:formapi:default"] = "http://external:9000",
            ["services:formapi:http:0"] = "http://localhost:5180",
        });

        Assert.Equal(new Uri("http://external:9000/"), resolver.Resolve(new Uri("http://formapi/")));
    }

    [Fact]
    public void Endpoint_name_selects_the_named_section()
    {
        var resolver = Resolver(new()
        {
            ["services:formapi:http:0"] = "http://localhost:5180",
            ["services:formapi:admin:0"] = "http://localhost:5999",
        });

        Assert.Equal(new Uri("http://localhost:5999/ops"), resolver.Resolve(new Uri("http://_admin.formapi/ops")));
    }

    [Fact]
    public void Several_endpoints_are_used_round_robin()
    {
        var resolver = Resolver(new()
        {
            ["services:kms:http:0"] = "http://localhost:5001",
            ["services:kms:http:1"] = "http://localhost:5002",
        });

        var ports = Enumerable.Range(0, 4).Select(_ => resolver.Resolve(new Uri("http://kms/")).Port).ToList();

        Assert.Equal([5001, 5002, 5001, 5002], ports);
    }

    [Fact]
    public void Endpoints_of_a_scheme_the_query_did_not_ask_for_are_dropped()
    {
        var resolver = Resolver(new()
        {
            ["services:kms:http:0"] = "https://localhost:7001",
            ["services:kms:http:1"] = "http://localhost:5001",
        });

        Assert.Equal(new Uri("http://localhost:5001/"), resolver.Resolve(new Uri("http://kms/")));
    }

    [Fact]
    public void Host_and_port_values_keep_the_requested_scheme()
    {
        var resolver = Resolver(new() { ["services:kms:http"] = "localhost:5050" });

        Assert.Equal(new Uri("http://localhost:5050/x"), resolver.Resolve(new Uri("http://kms/x")));
    }

    [Fact]
    public void Unconfigured_names_pass_through_and_a_scheme_list_uses_its_first_scheme()
    {
        var resolver = Resolver([]);

        Assert.Equal(new Uri("http://localhost:5000/a"), resolver.Resolve(new Uri("http://localhost:5000/a")));
        Assert.Equal(new Uri("https://example.org/a"), resolver.Resolve(new Uri("https+http://example.org/a")));
    }

    [Fact]
    public void A_disallowed_scheme_is_refused_when_schemes_are_restricted()
    {
        var resolver = Resolver([], o =>
        {
            o.AllowAllSchemes = false;
            o.AllowedSchemes.Add("https");
        });

        Assert.Throws<InvalidOperationException>(() => resolver.Resolve(new Uri("http+https://example.org/")));
    }

    [Fact]
    public void Non_numeric_child_keys_are_a_configuration_error()
    {
        var resolver = Resolver(new() { ["services:kms:http:first"] = "http://localhost:5001" });

        Assert.Throws<KeyNotFoundException>(() => resolver.Resolve(new Uri("http://kms/")));
    }

    [Fact]
    public async Task Every_HttpClient_resolves_through_the_handler_against_a_real_server()
    {
        await using var server = await TestServers.StartAsync(app => app.MapGet("/ping", () => "pong"));
        var builder = WebApplication.CreateBuilder();
        builder.Configuration["services:peer:http:0"] = server.Url;
        builder.AddServiceDefaults();
        builder.Services.AddHttpClient("peer", c => c.BaseAddress = new Uri("https+http://peer"));
        await using var app = builder.Build();

        var client = app.Services.GetRequiredService<IHttpClientFactory>().CreateClient("peer");
        var plain = app.Services.GetRequiredService<IHttpClientFactory>().CreateClient();

        Assert.Equal("pong", await client.GetStringAsync("/ping"));
        Assert.Equal("pong", await plain.GetStringAsync("http://peer/ping"));
    }
}

/// <summary>A real Kestrel server on a free loopback port for handler tests.</summary>
internal sealed class TestServers : IAsyncDisposable
{
    private readonly WebApplication _app;

    private TestServers(WebApplication app, string url)
    {
        _app = app;
        Url = url;
    }

    public string Url { get; }

    public static async Task<TestServers> StartAsync(Action<WebApplication> map)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        map(app);
        await app.StartAsync();
        var url = app.Urls.First();
        return new TestServers(app, url);
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
