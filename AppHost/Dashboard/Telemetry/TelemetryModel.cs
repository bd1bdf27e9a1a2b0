namespace Pii.AppHost.Dashboard.Telemetry;

/// <summary>
/// Telemetry is grouped by resource = (service.name, service.instance.id), as Aspire's dashboard does;
/// a missing name is "unknown_service".
/// </summary>
public readonly record struct ResourceKey(string ServiceName, string? InstanceId)
{
    public override string ToString() => InstanceId is null ? ServiceName : $"{ServiceName}-{InstanceId}";
}

public sealed record SpanData(
    string TraceId,
    string SpanId,
    string? ParentSpanId,
    ResourceKey Resource,
    string Scope,
    string Name,
    string Kind,
    DateTimeOffset StartTime,
    DateTimeOffset EndTime,
    bool IsError,
    string? StatusMessage,
    IReadOnlyDictionary<string, string> Attributes,
    IReadOnlyList<SpanEventData> Events)
{
    public double DurationMs => (EndTime - StartTime).TotalMilliseconds;
}

public sealed record SpanEventData(string Name, DateTimeOffset Time, IReadOnlyDictionary<string, string> Attributes);

/// <summary>A trace as collected so far: spans may arrive from several services, in any order.</summary>
public sealed record TraceData(string TraceId, IReadOnlyList<SpanData> Spans)
{
    /// <summary>The span without a parent in this trace (or the earliest one while the root has not arrived).</summary>
    public SpanData Root => Spans.FirstOrDefault(s => s.ParentSpanId is null) ?? Spans.MinBy(s => s.StartTime)!;

    public DateTimeOffset StartTime => Spans.Min(s => s.StartTime);

    public DateTimeOffset EndTime => Spans.Max(s => s.EndTime);

    public double DurationMs => (EndTime - StartTime).TotalMilliseconds;

    public bool HasError => Spans.Any(s => s.IsError);

    public IReadOnlyList<string> Services => Spans.Select(s => s.Resource.ServiceName).Distinct(StringComparer.Ordinal).ToList();
}

public sealed record LogData(
    long Sequence,
    DateTimeOffset Time,
    ResourceKey Resource,
    string Scope,
    string Level,
    int SeverityNumber,
    string Message,
    string? TraceId,
    string? SpanId,
    IReadOnlyDictionary<string, string> Attributes);

public readonly record struct MetricKey(ResourceKey Resource, string Meter, string Name);

public sealed record MetricPoint(DateTimeOffset Time, double Value);

/// <summary>One instrument's recent values. Value = sum over its attribute sets (histograms: mean of all recorded values).</summary>
public sealed record MetricSeries(MetricKey Key, string Description, string Unit, string Kind, IReadOnlyList<MetricPoint> Points);
