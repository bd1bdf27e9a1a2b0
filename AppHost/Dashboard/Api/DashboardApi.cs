using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;
using Pii.AppHost.Dashboard.Telemetry;

namespace Pii.AppHost.Dashboard.Api;

/// <summary>
/// The JSON the pages poll, also for tests and scripts. Shapes are a contract (fields may be added, never renamed):
/// resources <c>[{name,type,state,health,endpoints,pid}]</c>, traces <c>[{traceId,rootName,services,spanCount,durationMs,hasError}]</c>,
/// one trace <c>{traceId,spans:[{spanId,parentSpanId,service,name,startTime,durationMs,attributes}]}</c>,
/// logs <c>[{time,service,level,message,traceId,attributes}]</c>. Lists are newest first.
/// </summary>
public static class DashboardApi
{
    private const int DefaultLimit = 200;
    private const int MaxLimit = 10_000;

    public static IEndpointRouteBuilder MapDashboardApi(this IEndpointRouteBuilder endpoints)
    {
        var api = endpoints.MapGroup("/api");
        api.MapGet("/resources", GetResources);
        api.MapGet("/resources/{name}/console", GetConsoleAsync);
        api.MapGet("/resources/{name}/console/stream", StreamConsoleAsync);
        api.MapGet("/services", GetServices);
        api.MapGet("/traces", GetTraces);
        api.MapGet("/traces/{traceId}", GetTrace);
        api.MapGet("/logs", GetLogs);
        api.MapGet("/metrics", GetMetrics);
        return endpoints;
    }

    public sealed record ResourceDto(string Name, string Type, string State, string Health, IReadOnlyList<string> Endpoints, int? Pid,
        DateTimeOffset? StartTime, int RestartCount, int? ExitCode, string? StateMessage);

    public sealed record ConsoleLineDto(DateTimeOffset Time, bool IsError, string Text);

    public sealed record TraceSummaryDto(string TraceId, string RootName, string RootService, IReadOnlyList<string> Services, int SpanCount,
        double DurationMs, bool HasError, DateTimeOffset StartTime);

    public sealed record TraceDto(string TraceId, DateTimeOffset StartTime, double DurationMs, IReadOnlyList<SpanDto> Spans);

    public sealed record SpanDto(string SpanId, string? ParentSpanId, string Service, string? InstanceId, string Name, string Kind,
        DateTimeOffset StartTime, double OffsetMs, double DurationMs, bool HasError, string? StatusMessage, string Scope,
        IReadOnlyDictionary<string, string> Attributes, IReadOnlyList<SpanEventDto> Events);

    public sealed record SpanEventDto(string Name, DateTimeOffset Time, double OffsetMs, IReadOnlyDictionary<string, string> Attributes);

    public sealed record LogDto(long Id, DateTimeOffset Time, string Service, string? InstanceId, string Level, string Message,
        string? TraceId, string? SpanId, string Category, IReadOnlyDictionary<string, string> Attributes);

    public sealed record MetricDto(string Service, string? InstanceId, string Meter, string Name, string Description, string Unit,
        string Kind, double? Latest, IReadOnlyList<MetricPoint> Points);

    private static Ok<List<ResourceDto>> GetResources(IResourceCatalog catalog) =>
        TypedResults.Ok(catalog.GetResources()
            .Select(r => new ResourceDto(r.Name, r.Type, r.State, r.Health, r.Endpoints, r.Pid, r.StartTime, r.RestartCount, r.ExitCode, r.StateMessage))
            .ToList());

    /// <summary>
    /// What is buffered so far: the catalog's stream replays the buffer then goes live, so reading stops once it has
    /// been quiet for a moment (or at the limit).
    /// </summary>
    private static async Task<Results<Ok<List<ConsoleLineDto>>, NotFound>> GetConsoleAsync(string name, IResourceCatalog catalog, CancellationToken cancellationToken)
    {
        if (!catalog.GetResources().Any(r => r.Name == name))
        {
            return TypedResults.NotFound();
        }
        var lines = new List<ConsoleLineDto>();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        await using var lineEnumerator = catalog.WatchConsoleAsync(name, stop.Token).GetAsyncEnumerator(stop.Token);
        while (lines.Count < MaxLimit)
        {
            var next = lineEnumerator.MoveNextAsync().AsTask();
            var quiet = Task.Delay(TimeSpan.FromMilliseconds(250), cancellationToken);
            if (await Task.WhenAny(next, quiet) != next)
            {
                await stop.CancelAsync();
                await SwallowCancellation(next);
                break;
            }
            if (!await next)
            {
                break;
            }
            var line = lineEnumerator.Current;
            lines.Add(new ConsoleLineDto(line.Time, line.IsError, line.Text));
        }
        return TypedResults.Ok(lines);
    }

    private static async Task SwallowCancellation(Task<bool> pending)
    {
        try
        {
            await pending;
        }
        catch (OperationCanceledException)
        {
            // The quiet period ended the read; the cancelled MoveNext is expected.
        }
    }

    /// <summary>Server-sent events: one <c>data: {time,isError,text}</c> per console line, buffered lines first, until the client leaves.</summary>
    private static async Task StreamConsoleAsync(string name, IResourceCatalog catalog, HttpContext context, IHostApplicationLifetime lifetime,
        IOptions<JsonOptions> jsonOptions, CancellationToken requestAborted)
    {
        // A browser keeps this request open forever: end it when the dashboard stops, not after Kestrel's grace period.
        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(requestAborted, lifetime.ApplicationStopping);
        var cancellationToken = stopping.Token;
        if (!catalog.GetResources().Any(r => r.Name == name))
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-store";
        var json = jsonOptions.Value.SerializerOptions;
        await context.Response.Body.FlushAsync(cancellationToken);
        try
        {
            await foreach (var line in catalog.WatchConsoleAsync(name, cancellationToken))
            {
                var payload = JsonSerializer.Serialize(new ConsoleLineDto(line.Time, line.IsError, line.Text), json);
                await context.Response.WriteAsync($"data: {payload}\n\n", cancellationToken);
                await context.Response.Body.FlushAsync(cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The browser left the page, or the dashboard is stopping.
        }
    }

    private static Ok<List<string>> GetServices(TelemetryStore store, IResourceCatalog catalog) =>
        TypedResults.Ok(store.GetTraces().SelectMany(t => t.Services)
            .Concat(store.GetLogs().Select(l => l.Resource.ServiceName))
            .Concat(store.GetMetrics().Select(m => m.Key.Resource.ServiceName))
            .Concat(catalog.GetResources().Select(r => r.Name))
            .Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList());

    private static Ok<List<TraceSummaryDto>> GetTraces(TelemetryStore store, string? service, string? q, int? limit) =>
        TypedResults.Ok(store.GetTraces()
            .Where(t => service is null || t.Services.Contains(service, StringComparer.Ordinal))
            .Where(t => q is null || MatchesText(t, q))
            .Take(Limit(limit))
            .Select(t => new TraceSummaryDto(t.TraceId, t.Root.Name, t.Root.Resource.ServiceName, t.Services, t.Spans.Count, t.DurationMs, t.HasError, t.StartTime))
            .ToList());

    private static bool MatchesText(TraceData trace, string text) =>
        trace.TraceId.Contains(text, StringComparison.OrdinalIgnoreCase)
        || trace.Spans.Any(s => s.Name.Contains(text, StringComparison.OrdinalIgnoreCase)
            || s.Resource.ServiceName.Contains(text, StringComparison.OrdinalIgnoreCase));

    private static Results<Ok<TraceDto>, NotFound> GetTrace(string traceId, TelemetryStore store)
    {
        if (store.GetTrace(traceId.ToLowerInvariant()) is not { } trace)
        {
            return TypedResults.NotFound();
        }
        var start = trace.StartTime;
        var spans = trace.Spans.Select(s => new SpanDto(s.SpanId, s.ParentSpanId, s.Resource.ServiceName, s.Resource.InstanceId, s.Name, s.Kind,
            s.StartTime, (s.StartTime - start).TotalMilliseconds, s.DurationMs, s.IsError, s.StatusMessage, s.Scope, s.Attributes,
            s.Events.Select(e => new SpanEventDto(e.Name, e.Time, (e.Time - start).TotalMilliseconds, e.Attributes)).ToList())).ToList();
        return TypedResults.Ok(new TraceDto(trace.TraceId, start, trace.DurationMs, spans));
    }

    private static Ok<List<LogDto>> GetLogs(TelemetryStore store, string? service, string? level, string? q, string? traceId, int? limit)
    {
        var logs = store.GetLogs();
        var result = new List<LogDto>();
        for (var i = logs.Count - 1; i >= 0 && result.Count < Limit(limit); i--)
        {
            var log = logs[i];
            if ((service is null || log.Resource.ServiceName == service)
                && (level is null || string.Equals(log.Level, level, StringComparison.OrdinalIgnoreCase))
                && (traceId is null || string.Equals(log.TraceId, traceId, StringComparison.OrdinalIgnoreCase))
                && (q is null || log.Message.Contains(q, StringComparison.OrdinalIgnoreCase)))
            {
                result.Add(new LogDto(log.Sequence, log.Time, log.Resource.ServiceName, log.Resource.InstanceId, log.Level, log.Message,
                    log.TraceId, log.SpanId, log.Scope, log.Attributes));
            }
        }
        // The newest arrivals, shown newest first by their own timestamps (batches from several services interleave).
        return TypedResults.Ok(result.OrderByDescending(l => l.Time).ThenByDescending(l => l.Id).ToList());
    }

    private static Ok<List<MetricDto>> GetMetrics(TelemetryStore store, string? service) =>
        TypedResults.Ok(store.GetMetrics()
            .Where(m => service is null || m.Key.Resource.ServiceName == service)
            .Select(m => new MetricDto(m.Key.Resource.ServiceName, m.Key.Resource.InstanceId, m.Key.Meter, m.Key.Name, m.Description, m.Unit,
                m.Kind, m.Points.Count == 0 ? null : m.Points[^1].Value, m.Points))
            .ToList());

    private static int Limit(int? limit) => Math.Clamp(limit ?? DefaultLimit, 1, MaxLimit);
}
