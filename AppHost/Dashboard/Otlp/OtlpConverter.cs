using System.Globalization;
using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Logs.V1;
using OpenTelemetry.Proto.Collector.Metrics.V1;
using OpenTelemetry.Proto.Collector.Trace.V1;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Metrics.V1;
using OpenTelemetry.Proto.Trace.V1;
using Pii.AppHost.Dashboard.Telemetry;
using ProtoResource = OpenTelemetry.Proto.Resource.V1.Resource;

namespace Pii.AppHost.Dashboard.Otlp;

/// <summary>
/// Turns decoded OTLP requests into the dashboard's model, applying the attribute bounds of
/// <see cref="DashboardOptions"/>. IDs become lower-case hex (W3C form); nanosecond times become DateTimeOffset.
/// </summary>
public sealed class OtlpConverter(DashboardOptions options)
{
    public const string UnknownService = "unknown_service";

    public IEnumerable<SpanData> Convert(ExportTraceServiceRequest request)
    {
        foreach (var resourceSpans in request.ResourceSpans)
        {
            var resource = KeyOf(resourceSpans.Resource);
            foreach (var scopeSpans in resourceSpans.ScopeSpans)
            {
                var scope = scopeSpans.Scope?.Name ?? "";
                foreach (var span in scopeSpans.Spans)
                {
                    if (span.TraceId.Length != 16 || span.SpanId.Length != 8)
                    {
                        continue; // invalid per the spec: nothing to key it on
                    }
                    yield return new SpanData(
                        Hex(span.TraceId),
                        Hex(span.SpanId),
                        span.ParentSpanId.Length == 8 ? Hex(span.ParentSpanId) : null,
                        resource,
                        scope,
                        Truncate(span.Name),
                        KindName(span.Kind),
                        Time(span.StartTimeUnixNano),
                        Time(Math.Max(span.EndTimeUnixNano, span.StartTimeUnixNano)),
                        span.Status?.Code == Status.Types.StatusCode.Error,
                        span.Status is { Message.Length: > 0 } status ? Truncate(status.Message) : null,
                        Attributes(span.Attributes),
                        span.Events.Take(options.MaxAttributeCount)
                            .Select(e => new SpanEventData(Truncate(e.Name), Time(e.TimeUnixNano), Attributes(e.Attributes)))
                            .ToList());
                }
            }
        }
    }

    public IEnumerable<LogData> Convert(ExportLogsServiceRequest request)
    {
        foreach (var resourceLogs in request.ResourceLogs)
        {
            var resource = KeyOf(resourceLogs.Resource);
            foreach (var scopeLogs in resourceLogs.ScopeLogs)
            {
                var scope = scopeLogs.Scope?.Name ?? "";
                foreach (var record in scopeLogs.LogRecords)
                {
                    var time = record.TimeUnixNano != 0 ? record.TimeUnixNano : record.ObservedTimeUnixNano;
                    yield return new LogData(
                        0,
                        Time(time),
                        resource,
                        scope,
                        LevelName(record.SeverityNumber, record.SeverityText),
                        (int)record.SeverityNumber,
                        Truncate(record.Body is null ? "" : Text(record.Body)),
                        record.TraceId.Length == 16 ? Hex(record.TraceId) : null,
                        record.SpanId.Length == 8 ? Hex(record.SpanId) : null,
                        Attributes(record.Attributes));
                }
            }
        }
    }

    /// <summary>One point per instrument per request: the sum over its attribute sets (histograms: overall mean).</summary>
    public IEnumerable<(MetricKey Key, string Description, string Unit, string Kind, MetricPoint Point)> Convert(ExportMetricsServiceRequest request)
    {
        foreach (var resourceMetrics in request.ResourceMetrics)
        {
            var resource = KeyOf(resourceMetrics.Resource);
            foreach (var scopeMetrics in resourceMetrics.ScopeMetrics)
            {
                var meter = scopeMetrics.Scope?.Name ?? "";
                foreach (var metric in scopeMetrics.Metrics)
                {
                    if (Summarise(metric) is not { } summary)
                    {
                        continue;
                    }
                    var key = new MetricKey(resource, Truncate(meter), Truncate(metric.Name));
                    yield return (key, Truncate(metric.Description), Truncate(metric.Unit), summary.Kind, new MetricPoint(summary.Time, summary.Value));
                }
            }
        }
    }

    private static (string Kind, DateTimeOffset Time, double Value)? Summarise(Metric metric)
    {
        switch (metric.DataCase)
        {
            case Metric.DataOneofCase.Gauge when metric.Gauge.DataPoints.Count > 0:
                return ("gauge", Time(metric.Gauge.DataPoints.Max(p => p.TimeUnixNano)), metric.Gauge.DataPoints.Sum(Number));
            case Metric.DataOneofCase.Sum when metric.Sum.DataPoints.Count > 0:
                return (metric.Sum.IsMonotonic ? "counter" : "updown-counter", Time(metric.Sum.DataPoints.Max(p => p.TimeUnixNano)), metric.Sum.DataPoints.Sum(Number));
            case Metric.DataOneofCase.Histogram when metric.Histogram.DataPoints.Count > 0:
                var points = metric.Histogram.DataPoints;
                var count = points.Sum(p => (double)p.Count);
                var sum = points.Sum(p => p.HasSum ? p.Sum : 0);
                return ("histogram", Time(points.Max(p => p.TimeUnixNano)), count == 0 ? 0 : sum / count);
            case Metric.DataOneofCase.ExponentialHistogram when metric.ExponentialHistogram.DataPoints.Count > 0:
                var exponential = metric.ExponentialHistogram.DataPoints;
                var total = exponential.Sum(p => (double)p.Count);
                return ("histogram", Time(exponential.Max(p => p.TimeUnixNano)), total == 0 ? 0 : exponential.Sum(p => p.HasSum ? p.Sum : 0) / total);
            case Metric.DataOneofCase.Summary when metric.Summary.DataPoints.Count > 0:
                var summaries = metric.Summary.DataPoints;
                var n = summaries.Sum(p => (double)p.Count);
                return ("summary", Time(summaries.Max(p => p.TimeUnixNano)), n == 0 ? 0 : summaries.Sum(p => p.Sum) / n);
            default:
                return null;
        }
    }

    private static double Number(NumberDataPoint point) => point.ValueCase switch
    {
        NumberDataPoint.ValueOneofCase.AsDouble => point.AsDouble,
        NumberDataPoint.ValueOneofCase.AsInt => point.AsInt,
        _ => 0,
    };

    private ResourceKey KeyOf(ProtoResource? resource)
    {
        string? name = null;
        string? instance = null;
        foreach (var attribute in resource?.Attributes ?? [])
        {
            if (attribute.Key == "service.name")
            {
                name = Truncate(Text(attribute.Value));
            }
            else if (attribute.Key == "service.instance.id")
            {
                instance = Truncate(Text(attribute.Value));
            }
        }
        return new ResourceKey(string.IsNullOrEmpty(name) ? UnknownService : name, string.IsNullOrEmpty(instance) ? null : instance);
    }

    private Dictionary<string, string> Attributes(IEnumerable<KeyValue> attributes)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var attribute in attributes)
        {
            if (result.Count >= options.MaxAttributeCount)
            {
                break;
            }
            result[Truncate(attribute.Key)] = Truncate(Text(attribute.Value));
        }
        return result;
    }

    private string Truncate(string text) =>
        text.Length <= options.MaxAttributeLength ? text : text[..options.MaxAttributeLength] + "…";

    private static string Text(AnyValue? value) => value?.ValueCase switch
    {
        AnyValue.ValueOneofCase.StringValue => value.StringValue,
        AnyValue.ValueOneofCase.BoolValue => value.BoolValue ? "true" : "false",
        AnyValue.ValueOneofCase.IntValue => value.IntValue.ToString(CultureInfo.InvariantCulture),
        AnyValue.ValueOneofCase.DoubleValue => value.DoubleValue.ToString(CultureInfo.InvariantCulture),
        AnyValue.ValueOneofCase.ArrayValue => "[" + string.Join(", ", value.ArrayValue.Values.Select(Text)) + "]",
        AnyValue.ValueOneofCase.KvlistValue => "{" + string.Join(", ", value.KvlistValue.Values.Select(kv => $"{kv.Key}: {Text(kv.Value)}")) + "}",
        AnyValue.ValueOneofCase.BytesValue => System.Convert.ToBase64String(value.BytesValue.Span),
        _ => "",
    };

    private static string Hex(ByteString id) => System.Convert.ToHexStringLower(id.Span);

    private static DateTimeOffset Time(ulong unixNanoseconds) =>
        DateTimeOffset.UnixEpoch.AddTicks((long)Math.Min(unixNanoseconds / 100, (ulong)(DateTimeOffset.MaxValue - DateTimeOffset.UnixEpoch).Ticks));

    private static string KindName(Span.Types.SpanKind kind) => kind switch
    {
        Span.Types.SpanKind.Server => "server",
        Span.Types.SpanKind.Client => "client",
        Span.Types.SpanKind.Producer => "producer",
        Span.Types.SpanKind.Consumer => "consumer",
        _ => "internal",
    };

    /// <summary>Severity ranges of the OTel log data model: 1-4 trace, 5-8 debug, 9-12 info, 13-16 warn, 17-20 error, 21-24 fatal.</summary>
    private static string LevelName(OpenTelemetry.Proto.Logs.V1.SeverityNumber number, string text) => (int)number switch
    {
        >= 21 => "Critical",
        >= 17 => "Error",
        >= 13 => "Warning",
        >= 9 => "Information",
        >= 5 => "Debug",
        >= 1 => "Trace",
        _ => string.IsNullOrEmpty(text) ? "Information" : text,
    };
}
