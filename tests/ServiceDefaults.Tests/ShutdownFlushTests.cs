using Pii.AppHost.Dashboard;
using Pii.Testing;

namespace Pii.ServiceDefaults.Tests;

/// <summary>The providers are owned by the host's DI container: SIGTERM (the AppHost's Ctrl+C) flushes what is still batched.</summary>
public sealed class ShutdownFlushTests
{
    [Fact]
    public async Task Spans_and_logs_still_batched_are_exported_when_the_service_is_stopped()
    {
        await using var dashboard = await DashboardServer.StartAsync(
            new DashboardOptions { UiUrl = "http://127.0.0.1:0", OtlpUrl = "http://127.0.0.1:0" }, new EmptyCatalog(), CancellationToken.None);
        // Batches would wait a minute: only the shutdown flush can deliver within the test.
        await using var service = await SampleServiceProcess.StartAsync("flusher", "flushins", dashboard.OtlpUrl, otlpApiKey: null,
            new Dictionary<string, string> { ["OTEL_BSP_SCHEDULE_DELAY"] = "60000", ["OTEL_BLRP_SCHEDULE_DELAY"] = "60000" });
        using var http = new HttpClient { BaseAddress = service.BaseUrl };
        (await http.GetAsync("/hello")).EnsureSuccessStatusCode();
        await Task.Delay(500);
        Assert.DoesNotContain(dashboard.Store.GetTraces(), t => t.Root.Name == "GET /hello");

        await service.StopGracefullyAsync(TimeSpan.FromSeconds(30));

        Assert.Contains(dashboard.Store.GetTraces(), t => t.Root.Name == "GET /hello" && t.Root.Resource.ServiceName == "flusher");
        Assert.Contains(dashboard.Store.GetLogs(), l => l.Message == "Said hello as Pii.SampleService" && l.Resource.InstanceId == "flushins");
    }
}
