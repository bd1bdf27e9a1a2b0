using System.Net;
using Pii.AppHost.Dashboard.Telemetry;
using Pii.Testing;

namespace Pii.ServiceDefaults.Tests;

/// <summary>
/// Request content that reaches exception messages or path segments is removed before export (issue 10, item 9),
/// checked on what a real service process exported over OTLP to the real receiver.
/// </summary>
[Collection(TelemetryGroup.Name)]
public sealed class ExceptionScrubbingTests(TelemetryFixture fixture)
{
    private const string Ssn = "219-09-9999";

    private TelemetryStore Store => fixture.Dashboard.Store;

    [Fact]
    public async Task An_exception_message_quoting_the_request_is_exported_without_the_message()
    {
        var marker = Guid.NewGuid().ToString("N");
        using var response = await fixture.Http.GetAsync($"/parse?input={Uri.EscapeDataString($"Content-Disposition: ssn={Ssn} {marker}")}");
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);

        var log = await Eventually.WaitAsync(
            () => Store.GetLogs().FirstOrDefault(l => l.Attributes.TryGetValue("exception.message", out var m) && m.Contains("FormatException", StringComparison.Ordinal)),
            "the unhandled-exception log record");
        Assert.Contains("System.FormatException", log.Attributes["exception.stacktrace"], StringComparison.Ordinal);
        Assert.Contains("ParseInput", log.Attributes["exception.stacktrace"], StringComparison.Ordinal);
        AssertNothingExportedContains(Ssn);
        AssertNothingExportedContains(marker);
    }

    [Fact]
    public async Task An_exception_recorded_on_a_span_keeps_its_type_and_loses_its_message()
    {
        var marker = Guid.NewGuid().ToString("N");
        (await fixture.Http.GetAsync($"/span-exception?input={Ssn}-{marker}")).EnsureSuccessStatusCode();

        var span = await Eventually.WaitAsync(
            () => Store.GetTraces().SelectMany(t => t.Spans).FirstOrDefault(s => s.Name == "parse-input" && s.Events.Any(e => e.Name == "exception")),
            "the span with the exception event");
        var exception = span.Events.Single(e => e.Name == "exception");
        Assert.Equal("System.FormatException", exception.Attributes["exception.type"]);
        AssertNothingExportedContains(marker);
    }

    [Fact]
    public async Task Path_segments_that_are_not_route_literals_or_guids_are_not_exported()
    {
        var id = Guid.NewGuid();
        (await fixture.Http.GetAsync($"/items/{id}")).EnsureSuccessStatusCode();
        Assert.Equal(HttpStatusCode.NotFound, (await fixture.Http.GetAsync($"/items/{Ssn}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await fixture.Http.GetAsync("/items/ada%40example.org")).StatusCode);

        await Eventually.WaitAsync(() => Store.GetTraces().SelectMany(t => t.Spans)
            .Count(s => s.Attributes.TryGetValue("url.path", out var p) && p == "/items/[redacted]") >= 2 ? "both" : null, "the two scrubbed spans");
        Assert.Contains(Store.GetTraces().SelectMany(t => t.Spans), s => s.Attributes.TryGetValue("url.path", out var p) && p == $"/items/{id}");
        AssertNothingExportedContains(Ssn);
        AssertNothingExportedContains("example.org");
    }

    private void AssertNothingExportedContains(string value)
    {
        foreach (var span in Store.GetTraces().SelectMany(t => t.Spans))
        {
            Assert.DoesNotContain(value, span.Name, StringComparison.Ordinal);
            Assert.DoesNotContain(span.Attributes.Values, v => v.Contains(value, StringComparison.Ordinal));
            Assert.DoesNotContain(span.Events.SelectMany(e => e.Attributes.Values), v => v.Contains(value, StringComparison.Ordinal));
        }
        foreach (var log in Store.GetLogs())
        {
            Assert.DoesNotContain(value, log.Message, StringComparison.Ordinal);
            Assert.DoesNotContain(log.Attributes.Values, v => v.Contains(value, StringComparison.Ordinal));
        }
    }
}
