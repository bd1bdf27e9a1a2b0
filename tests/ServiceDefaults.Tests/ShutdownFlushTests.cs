using Pii.ServiceDefaults.Tests.Otlp;
using Pii.Testing;

namespace Pii.ServiceDefaults.Tests;

/// <summary>The providers are owned by the host: SIGTERM (the AppHost's stop) flushes what is still batched.</summary>
public sealed class ShutdownFlushTests
{
    [Fact]
    public async Task Spans_and_logs_still_batched_are_exported_when_the_service_is_stopped()
    {
        await using var otlp = OtlpCapture.Start();
        // Batches would wait a minute: only the shutdown flush can deliver within the test.
        await using var service = await SampleServiceProcess.StartAsync("flusher", "flushins", otlp.Endpoint, otlpApiKey: null,
            new Dictionary<string, string> { ["OTEL_BSP_SCHEDULE_DELAY"] = "60000", ["OTEL_BLRP_SCHEDULE_DELAY"] = "60000" });
        using var http = new HttpClient { BaseAddress = service.BaseUrl };
        (await http.GetAsync("/hello")).EnsureSuccessStatusCode();
        Assert.DoesNotContain(otlp.Spans, s => s.Name == "GET /hello");

        await service.StopGracefullyAsync(TimeSpan.FromSeconds(30));

        Assert.Contains(otlp.Spans, s => s.Name == "GET /hello" && s.ServiceName == "flusher");
        Assert.Contains(otlp.Logs, l => l.Body == "Said hello as Pii.SampleService" && l.Resource["service.instance.id"] == "flushins");
    }
}
