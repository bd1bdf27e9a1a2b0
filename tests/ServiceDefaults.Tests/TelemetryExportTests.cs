using System.Net;
using System.Net.Http.Json;
using Pii.Testing;

namespace Pii.ServiceDefaults.Tests;

[Collection(TelemetryGroup.Name)]
/// <summary>
/// A real service process exports over OTLP http/protobuf (configured only by OTEL_* variables, with the API-key
/// header) through the template's packages; the receiver decodes what arrived on the wire.
/// </summary>
public sealed class TelemetryExportTests(TelemetryFixture fixture)
{
    [Fact]
    public async Task Server_span_is_named_after_the_route_and_carries_the_resource_and_http_tags()
    {
        (await fixture.Http.GetAsync("/hello")).EnsureSuccessStatusCode();

        var span = await Eventually.WaitAsync(() => fixture.Otlp.Spans.FirstOrDefault(s => s.Name == "GET /hello"), "the /hello server span");

        Assert.Equal(TelemetryFixture.ServiceName, span.ServiceName);
        Assert.Equal(TelemetryFixture.InstanceId, span.Resource["service.instance.id"]);
        Assert.Equal(2, span.Kind);
        Assert.Equal("200", span.Attributes["http.response.status_code"]);
        Assert.Equal("/hello", span.Attributes["http.route"]);
        Assert.Equal("GET", span.Attributes["http.request.method"]);
        Assert.Equal("/hello", span.Attributes["url.path"]);
        Assert.NotEqual(2, span.StatusCode);
        Assert.Equal(0, fixture.Otlp.Refused);
    }

    [Fact]
    public async Task Logs_arrive_with_formatted_message_attributes_and_trace_context()
    {
        (await fixture.Http.GetAsync("/hello")).EnsureSuccessStatusCode();

        var log = await Eventually.WaitAsync(
            () => fixture.Otlp.Logs.FirstOrDefault(l => l.Body.StartsWith("Said hello as", StringComparison.Ordinal)), "the hello log record");

        Assert.Equal(TelemetryFixture.ServiceName, log.Resource["service.name"]);
        Assert.Equal("Information", log.Severity);
        Assert.Equal("Said hello as Pii.SampleService", log.Body);
        Assert.Equal("Pii.SampleService", log.Attributes["ServiceName"]);
        Assert.True(log.HasTraceId);
    }

    [Fact]
    public async Task Metrics_of_the_instrumentation_packages_are_exported()
    {
        (await fixture.Http.GetAsync("/hello")).EnsureSuccessStatusCode();

        await Eventually.WaitAsync(() => fixture.Otlp.AnyBodyContains("http.server.request.duration") ? "seen" : null, "http.server.request.duration");
        await Eventually.WaitAsync(() => fixture.Otlp.AnyBodyContains("dotnet.gc.collections") ? "seen" : null, "a runtime metric");
        Assert.NotEmpty(fixture.Otlp.Bodies("/v1/metrics"));
    }

    [Fact]
    public async Task Health_probes_are_neither_traced_nor_logged_and_their_checks_make_no_spans()
    {
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await fixture.Http.GetAsync("/health")).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await fixture.Http.GetAsync("/alive")).StatusCode);
        }
        // A request after the probes: once its span is in, the probes' spans would have been exported in the same or
        // an earlier batch (one process, one batch processor, spans queued in end order).
        var helloSpans = fixture.Otlp.Spans.Count(s => s.Name == "GET /hello");
        (await fixture.Http.GetAsync("/hello")).EnsureSuccessStatusCode();
        await Eventually.WaitAsync(() => fixture.Otlp.Spans.Count(s => s.Name == "GET /hello") > helloSpans ? "seen" : null, "the next /hello span");

        Assert.DoesNotContain(fixture.Otlp.Spans, s => s.Attributes.TryGetValue("url.path", out var path) && (path == "/health" || path == "/alive"));
        // The sample's health check calls its peer's /alive over HTTP: with the probe's instrumentation suppressed, no client span.
        Assert.DoesNotContain(fixture.Otlp.Spans, s => s.Kind == 3 && s.Attributes.GetValueOrDefault("url.full", "").Contains("/alive", StringComparison.Ordinal));
        Assert.False(fixture.Otlp.AnyBodyContains("/health", "/v1/traces"));
        Assert.DoesNotContain(fixture.Service.Output, l => l.Text.Contains("/health", StringComparison.Ordinal)
            || l.Text.Contains("/alive", StringComparison.Ordinal) || l.Text.Contains("Health checks", StringComparison.Ordinal));
        Assert.DoesNotContain(fixture.Otlp.Logs, l => l.Body.Contains("Health checks", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Errors_are_problem_details_without_exception_text_and_the_span_is_an_error()
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

        var errorSpan = await Eventually.WaitAsync(() => fixture.Otlp.Spans.FirstOrDefault(s => s.Name == "GET /boom"), "the /boom span");
        Assert.Equal(2, errorSpan.StatusCode);
        Assert.Equal("500", errorSpan.Attributes["http.response.status_code"]);
    }

    private sealed record ProblemBody(int Status, string? Title);
}
