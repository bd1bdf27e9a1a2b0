using System.Diagnostics;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Polly.Timeout;

namespace Pii.ServiceDefaults.Tests;

/// <summary>Outgoing calls through the default HttpClient pipeline against a real server that fails on purpose.</summary>
public sealed class ResilienceTests
{
    private static WebApplication ClientHost(string serverUrl, Dictionary<string, string>? settings = null)
    {
        var builder = WebApplication.CreateBuilder();
        builder.Configuration["services:flaky:http:0"] = serverUrl;
        builder.Configuration["HttpResilience:RetryBaseDelay"] = "00:00:00.010";
        foreach (var (key, value) in settings ?? [])
        {
            builder.Configuration[key] = value;
        }
        builder.AddServiceDefaults();
        builder.Services.AddHttpClient("flaky", c => c.BaseAddress = new Uri("http://flaky"));
        return builder.Build();
    }

    /// <summary>Fails with 503 the first <paramref name="failures"/> times each path is hit, then answers 200.</summary>
    private static Task<TestServers> FlakyServer(Dictionary<string, int> hits, int failures, string? retryAfter = null) =>
        TestServers.StartAsync(app => app.Map("/{name}", (string name, HttpContext context) =>
        {
            int count;
            lock (hits)
            {
                count = hits[name] = hits.GetValueOrDefault(name) + 1;
            }
            if (count <= failures)
            {
                if (retryAfter is not null)
                {
                    context.Response.Headers.RetryAfter = retryAfter;
                }
                return Results.StatusCode(503);
            }
            return Results.Ok(count);
        }));

    [Fact]
    public async Task Idempotent_calls_are_retried_until_they_succeed()
    {
        var hits = new Dictionary<string, int>();
        await using var server = await FlakyServer(hits, failures: 2);
        await using var app = ClientHost(server.Url);
        var client = app.Services.GetRequiredService<IHttpClientFactory>().CreateClient("flaky");

        var get = await client.GetAsync("/get");
        var put = await client.PutAsync("/put", new StringContent("x"));
        var delete = await client.DeleteAsync("/delete");

        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        Assert.Equal(HttpStatusCode.OK, delete.StatusCode);
        Assert.Equal(3, hits["get"]);
        Assert.Equal(3, hits["put"]);
        Assert.Equal(3, hits["delete"]);
    }

    [Fact]
    public async Task Non_idempotent_calls_are_sent_once()
    {
        var hits = new Dictionary<string, int>();
        await using var server = await FlakyServer(hits, failures: 2);
        await using var app = ClientHost(server.Url);
        var client = app.Services.GetRequiredService<IHttpClientFactory>().CreateClient("flaky");

        var post = await client.PostAsync("/post", new StringContent("x"));
        var patch = await client.PatchAsync("/patch", new StringContent("x"));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, post.StatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, patch.StatusCode);
        Assert.Equal(1, hits["post"]);
        Assert.Equal(1, hits["patch"]);
    }

    [Fact]
    public async Task Retries_are_bounded()
    {
        var hits = new Dictionary<string, int>();
        await using var server = await FlakyServer(hits, failures: 100);
        await using var app = ClientHost(server.Url, new() { ["HttpResilience:MaxRetryAttempts"] = "2" });
        var client = app.Services.GetRequiredService<IHttpClientFactory>().CreateClient("flaky");

        var get = await client.GetAsync("/always");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, get.StatusCode);
        Assert.Equal(3, hits["always"]);
    }

    [Fact]
    public async Task Retry_after_sets_the_delay()
    {
        var hits = new Dictionary<string, int>();
        await using var server = await FlakyServer(hits, failures: 1, retryAfter: "1");
        await using var app = ClientHost(server.Url);
        var client = app.Services.GetRequiredService<IHttpClientFactory>().CreateClient("flaky");

        var watch = Stopwatch.StartNew();
        var get = await client.GetAsync("/later");

        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal(2, hits["later"]);
        Assert.InRange(watch.Elapsed, TimeSpan.FromMilliseconds(950), TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Slow_attempts_time_out_and_the_total_timeout_ends_the_call()
    {
        var attempts = 0;
        await using var server = await TestServers.StartAsync(app => app.MapGet("/slow", async (CancellationToken ct) =>
        {
            Interlocked.Increment(ref attempts);
            await Task.Delay(TimeSpan.FromSeconds(5), ct);
            return "late";
        }));
        await using var app = ClientHost(server.Url, new()
        {
            ["HttpResilience:AttemptTimeout"] = "00:00:00.300",
            ["HttpResilience:TotalRequestTimeout"] = "00:00:01.500",
            ["HttpResilience:MaxRetryAttempts"] = "10",
        });
        var client = app.Services.GetRequiredService<IHttpClientFactory>().CreateClient("flaky");

        var watch = Stopwatch.StartNew();
        await Assert.ThrowsAsync<TimeoutRejectedException>(() => client.GetAsync("/slow"));

        Assert.InRange(watch.Elapsed, TimeSpan.FromSeconds(1.4), TimeSpan.FromSeconds(10));
        Assert.InRange(attempts, 2, 6);
    }
}
