using System.Net;
using System.Net.Http.Json;
using Pii.AppHost.Dashboard.Telemetry;
using Pii.Testing;

namespace Pii.ServiceDefaults.Tests;

[Collection(TelemetryGroup.Name)]
/// <summary>A real service process exports over OTLP http/protobuf (configured only by OTEL_* variables) to the real dashboard receiver.</summary>
public sealed class TelemetryExportTests(TelemetryFixture fixture)
{
    private TelemetryStore Store => fixture.Dashboard.Store;

    [Fact]
    public async Task Server_span_arrives_with_resource_attributes_and_the_NET10_http_tags()
    {
        (await fixture.Http.GetAsync("/hello")).EnsureSuccessStatusCode();

        var span = await Eventually.WaitAsync(
            () => Store.GetTraces().SelectMany(t => t.Spans).FirstOrDefault(s => s.Name == "GET /hello"), "the /hello server span");

        Assert.Equal(new ResourceKey(TelemetryFixture.ServiceName, TelemetryFixture.InstanceId), span.Resource);
        Assert.Equal("server", span.Kind);
        Assert.Equal("200", span.Attributes["http.response.status_code"]);
        Assert.Equal("/hello", span.Attributes["http.route"]);
        Assert.Equal("GET", span.Attributes["http.request.method"]);
        Assert.Equal("/hello", span.Attributes["url.path"]);
        Assert.False(span.IsError);
    }

    [Fact]
    public async Task Logs_arrive_with_resource_attributes_formatted_message_and_trace_context()
    {
        (await fixture.Http.GetAsync("/hello")).EnsureSuccessStatusCode();

        var log = await Eventually.WaitAsync(
            () => Store.GetLogs().FirstOrDefault(l => l.Message.StartsWith("Said hello as", StringComparison.Ordinal)), "the hello log record");

        Assert.Equal(new ResourceKey(TelemetryFixture.ServiceName, TelemetryFixture.InstanceId), log.Resource);
        Assert.Equal("Information", log.Level);
        Assert.Equal("Said hello as Pii.SampleService", log.Message);
        Assert.Equal("Pii.SampleService", log.Attributes["ServiceName"]);
        Assert.NotNull(log.TraceId);
        Assert.Equal(32, log.TraceId!.Length);
    }

    [Fact]
    public async Task Built_in_meters_are_exported()
    {
        (await fixture.Http.GetAsync("/hello")).EnsureSuccessStatusCode();

        var duration = await Eventually.WaitAsync(
            () => Store.GetMetrics().FirstOrDefault(m => m.Key.Name == "http.server.request.duration"), "http.server.request.duration");
        var runtime = await Eventually.WaitAsync(
            () => Store.GetMetrics().FirstOrDefault(m => m.Key.Meter == "System.Runtime"), "a System.Runtime metric");

        Assert.Equal(new ResourceKey(TelemetryFixture.ServiceName, TelemetryFixture.InstanceId), duration.Key.Resource);
        Assert.Equal("Microsoft.AspNetCore.Hosting", duration.Key.Meter);
        Assert.Equal("histogram", duration.Kind);
        Assert.Equal("s", duration.Unit);
        Assert.NotEmpty(runtime.Points);
    }

    [Fact]
    public async Task Health_probes_are_not_traced()
    {
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await fixture.Http.GetAsync("/health")).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await fixture.Http.GetAsync("/alive")).StatusCode);
        }
        // A request after the probes: once its span is in, the probes' spans would have been exported in the same or an earlier batch.
        var marker = Guid.NewGuid().ToString("N");
        (await fixture.Http.GetAsync($"/hello?marker={marker}")).EnsureSuccessStatusCode();
        await Eventually.WaitAsync(() => Store.GetTraces().Any(t => t.Root.Name == "GET /hello") ? "seen" : null, "a /hello trace");
        await Task.Delay(1000);

        var spans = Store.GetTraces().SelectMany(t => t.Spans).ToList();
        Assert.DoesNotContain(spans, s => s.Attributes.TryGetValue("url.path", out var path) && (path == "/health" || path == "/alive"));
        Assert.Contains(spans, s => s.Name == "GET /hello");
    }

    [Fact]
    public async Task Errors_are_problem_details_without_exception_text()
    {
        var boom = await fixture.Http.GetAsync("/boom");
        var notFound = await fixture.Http.GetAsync("/no-such-route");
        var badJson = await fixture.Http.PostAsync("/patients", new StringContent("{not json", System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.InternalServerError, boom.StatusCode);
        Assert.Equal("application/problem+json", boom.Content.Headers.ContentType?.MediaType);
        var body = await boom.Content.ReadAsStringAsync();
        Assert.DoesNotContain("InvalidOperationException", body, StringComparison.Ordinal);
        Assert.DoesNotContain("on purpose", body, StringComparison.Ordinal);
        Assert.DoesNotContain("SampleApi", body, StringComparison.Ordinal);
        var problem = await boom.Content.ReadFromJsonAsync<ProblemBody>();
        Assert.Equal(500, problem!.Status);

        Assert.Equal(HttpStatusCode.NotFound, notFound.StatusCode);
        Assert.Equal("application/problem+json", notFound.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.BadRequest, badJson.StatusCode);
        Assert.Equal("application/problem+json", badJson.Content.Headers.ContentType?.MediaType);

        var errorSpan = await Eventually.WaitAsync(
            () => Store.GetTraces().SelectMany(t => t.Spans).FirstOrDefault(s => s.Name == "GET /boom"), "the /boom span");
        Assert.True(errorSpan.IsError);
        Assert.Equal("500", errorSpan.Attributes["http.response.status_code"]);
    }

    private sealed record ProblemBody(int Status, string? Title);
}
