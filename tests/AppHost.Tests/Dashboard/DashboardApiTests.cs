using System.Net;
using System.Text.Json;
using Pii.Testing;

namespace Pii.AppHost.Tests.Dashboard;

/// <summary>
/// Telemetry from the real OpenTelemetry .NET exporter (two service processes) read back through the JSON API, with
/// the contract's shapes checked on the raw JSON.
/// </summary>
[Collection(DashboardGroup.Name)]
public sealed class DashboardApiTests(DashboardFixture fixture)
{
    private async Task<JsonElement> GetJsonAsync(string path)
    {
        using var response = await fixture.Api.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }

    /// <summary>Sends a request through frontend → backend and returns the trace summary once both services' spans are in.</summary>
    private async Task<JsonElement> ChainTraceAsync()
    {
        using var http = new HttpClient { BaseAddress = fixture.Frontend.BaseUrl };
        Assert.Equal("\"peer said hello\"", await http.GetStringAsync("/chain"));
        return await Eventually.WaitForValueAsync(async () =>
        {
            var traces = await GetJsonAsync("/api/traces?service=frontend&limit=50");
            return traces.EnumerateArray().Select(t => (JsonElement?)t).FirstOrDefault(t =>
                t!.Value.GetProperty("rootName").GetString() == "GET /chain"
                && t.Value.GetProperty("services").GetArrayLength() == 2
                && t.Value.GetProperty("spanCount").GetInt32() >= 3);
        }, "a /chain trace spanning frontend and backend");
    }

    [Fact]
    public async Task One_request_makes_one_trace_across_two_services()
    {
        var summary = await ChainTraceAsync();

        Assert.Equal(["backend", "frontend"], summary.GetProperty("services").EnumerateArray().Select(s => s.GetString()).Order());
        Assert.False(summary.GetProperty("hasError").GetBoolean());
        Assert.True(summary.GetProperty("durationMs").GetDouble() > 0);
        var traceId = summary.GetProperty("traceId").GetString()!;
        Assert.Matches("^[0-9a-f]{32}$", traceId);

        var trace = await GetJsonAsync($"/api/traces/{traceId}");
        Assert.Equal(traceId, trace.GetProperty("traceId").GetString());
        var spans = trace.GetProperty("spans").EnumerateArray().ToList();
        foreach (var span in spans)
        {
            foreach (var property in new[] { "spanId", "parentSpanId", "service", "name", "startTime", "durationMs", "attributes" })
            {
                Assert.True(span.TryGetProperty(property, out _), $"span lacks {property}");
            }
        }

        // frontend server span → frontend client span (GET) → backend server span (GET /hello), linked by parent ids.
        var frontendServer = spans.Single(s => s.GetProperty("service").GetString() == "frontend" && s.GetProperty("name").GetString() == "GET /chain");
        var client = spans.Single(s => s.GetProperty("service").GetString() == "frontend" && s.GetProperty("kind").GetString() == "client");
        var backendServer = spans.Single(s => s.GetProperty("service").GetString() == "backend" && s.GetProperty("name").GetString() == "GET /hello");
        Assert.Equal(JsonValueKind.Null, frontendServer.GetProperty("parentSpanId").ValueKind);
        Assert.Equal(frontendServer.GetProperty("spanId").GetString(), client.GetProperty("parentSpanId").GetString());
        Assert.Equal(client.GetProperty("spanId").GetString(), backendServer.GetProperty("parentSpanId").GetString());
        Assert.Equal("200", backendServer.GetProperty("attributes").GetProperty("http.response.status_code").GetString());
        Assert.StartsWith(fixture.Backend.BaseUrl.ToString().TrimEnd('/'), client.GetProperty("attributes").GetProperty("url.full").GetString(), StringComparison.Ordinal);
        Assert.Equal("bkndinst", backendServer.GetProperty("instanceId").GetString());
    }

    [Fact]
    public async Task Logs_carry_service_level_message_and_a_trace_link()
    {
        var summary = await ChainTraceAsync();
        var traceId = summary.GetProperty("traceId").GetString()!;

        var record = await Eventually.WaitForValueAsync(async () =>
        {
            var logs = await GetJsonAsync("/api/logs?service=backend");
            return logs.EnumerateArray()
                .Where(l => l.GetProperty("traceId").GetString() == traceId && l.GetProperty("message").GetString()!.StartsWith("Said hello", StringComparison.Ordinal))
                .Select(l => (JsonElement?)l).FirstOrDefault();
        }, "the backend's log record of the /chain trace");

        Assert.Equal("backend", record.GetProperty("service").GetString());
        Assert.Equal("Information", record.GetProperty("level").GetString());
        Assert.Equal("Said hello as Pii.SampleService", record.GetProperty("message").GetString());
        Assert.True(record.TryGetProperty("time", out _));
        Assert.Equal("Pii.SampleService", record.GetProperty("attributes").GetProperty("ServiceName").GetString());
    }

    [Fact]
    public async Task Resources_list_the_catalog_with_pid_and_endpoints()
    {
        var resources = await GetJsonAsync("/api/resources");

        var backend = resources.EnumerateArray().Single(r => r.GetProperty("name").GetString() == "backend");
        Assert.Equal("Project", backend.GetProperty("type").GetString());
        Assert.Equal("Running", backend.GetProperty("state").GetString());
        Assert.Equal("Healthy", backend.GetProperty("health").GetString());
        Assert.Equal(fixture.Backend.Pid, backend.GetProperty("pid").GetInt32());
        Assert.Equal([fixture.Backend.BaseUrl.ToString().TrimEnd('/')], backend.GetProperty("endpoints").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public async Task Console_lines_are_served_as_json_and_as_a_live_stream()
    {
        var lines = await Eventually.WaitForValueAsync(async () =>
        {
            var json = await GetJsonAsync("/api/resources/backend/console");
            return json.GetArrayLength() > 0 ? json : (JsonElement?)null;
        }, "backend console lines");
        Assert.Contains(lines.EnumerateArray(), l => l.GetProperty("text").GetString()!.Contains("Now listening on", StringComparison.Ordinal));

        using var stream = await fixture.Api.GetStreamAsync("/api/resources/backend/console/stream");
        using var reader = new StreamReader(stream);
        var first = await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.StartsWith("data: {", first, StringComparison.Ordinal);

        Assert.Equal(HttpStatusCode.NotFound, (await fixture.Api.GetAsync("/api/resources/nope/console")).StatusCode);
    }

    [Fact]
    public async Task Metrics_are_listed_per_service_and_instrument_with_points()
    {
        var element = await Eventually.WaitForValueAsync(async () =>
        {
            var metrics = await GetJsonAsync("/api/metrics?service=backend");
            return metrics.EnumerateArray().Where(m => m.GetProperty("name").GetString() == "http.server.request.duration")
                .Select(m => (JsonElement?)m).FirstOrDefault();
        }, "backend request duration metric");

        Assert.Equal("Microsoft.AspNetCore.Hosting", element.GetProperty("meter").GetString());
        Assert.True(element.GetProperty("points").GetArrayLength() >= 1);
        Assert.Equal(JsonValueKind.Number, element.GetProperty("latest").ValueKind);
    }

    [Fact]
    public async Task Unknown_trace_is_404()
    {
        using var response = await fixture.Api.GetAsync("/api/traces/00000000000000000000000000000000");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }
}
