using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Trace.V1;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Trace.V1;
using Pii.AppHost.Dashboard;
using Pii.AppHost.Dashboard.Otlp;
using Pii.AppHost.Dashboard.Telemetry;

namespace Pii.AppHost.Tests.Dashboard;

/// <summary>Memory stays bounded: ring buffers evict the oldest, per-item limits cap what one sender can make us hold.</summary>
public sealed class TelemetryStoreTests
{
    private static readonly ResourceKey Service = new("svc", "inst");

    private static SpanData Span(int trace, int span) => new(
        trace.ToString("x32", System.Globalization.CultureInfo.InvariantCulture), span.ToString("x16", System.Globalization.CultureInfo.InvariantCulture),
        null, Service, "", $"span {span}", "internal", DateTimeOffset.UnixEpoch.AddSeconds(trace), DateTimeOffset.UnixEpoch.AddSeconds(trace + 1), false, null,
        new Dictionary<string, string>(), []);

    private static LogData Log(string message) =>
        new(0, DateTimeOffset.UtcNow, Service, "", "Information", 9, message, null, null, new Dictionary<string, string>());

    [Fact]
    public void Oldest_traces_are_evicted_beyond_the_limit()
    {
        var store = new TelemetryStore(new DashboardOptions { MaxTraceCount = 3 });

        store.AddSpans(Enumerable.Range(1, 5).Select(i => Span(i, 1)));
        store.AddSpans([Span(5, 2)]);

        Assert.Equal([5, 4, 3], store.GetTraces().Select(t => Convert.ToInt32(t.TraceId, 16)));
        Assert.Null(store.GetTrace(Span(1, 1).TraceId));
        Assert.Equal(2, store.GetTrace(Span(5, 1).TraceId)!.Spans.Count);
    }

    [Fact]
    public void Spans_beyond_the_per_trace_limit_are_dropped_and_counted()
    {
        var store = new TelemetryStore(new DashboardOptions { MaxSpansPerTrace = 2 });

        store.AddSpans(Enumerable.Range(1, 4).Select(i => Span(7, i)));

        Assert.Equal(2, store.GetTrace(Span(7, 1).TraceId)!.Spans.Count);
        Assert.Equal(2, store.DroppedSpans);
    }

    [Fact]
    public void Logs_are_a_ring_buffer_keeping_the_newest()
    {
        var store = new TelemetryStore(new DashboardOptions { MaxLogCount = 4 });

        store.AddLogs(Enumerable.Range(1, 10).Select(i => Log($"message {i}")));

        Assert.Equal(["message 7", "message 8", "message 9", "message 10"], store.GetLogs().Select(l => l.Message));
        Assert.Equal([6L, 7, 8, 9], store.GetLogs().Select(l => l.Sequence));
    }

    [Fact]
    public void Instruments_and_points_are_bounded()
    {
        var store = new TelemetryStore(new DashboardOptions { MaxInstrumentCount = 2, MaxPointsPerInstrument = 3 });
        var first = new MetricKey(Service, "m", "first");

        for (var i = 0; i < 5; i++)
        {
            store.AddMetricPoint(first, "", "", "gauge", new MetricPoint(DateTimeOffset.UnixEpoch.AddSeconds(i), i));
        }
        store.AddMetricPoint(new MetricKey(Service, "m", "second"), "", "", "gauge", new MetricPoint(DateTimeOffset.UnixEpoch, 1));
        store.AddMetricPoint(first, "", "", "gauge", new MetricPoint(DateTimeOffset.UnixEpoch.AddSeconds(5), 5));
        store.AddMetricPoint(new MetricKey(Service, "m", "third"), "", "", "gauge", new MetricPoint(DateTimeOffset.UnixEpoch, 1));

        var metrics = store.GetMetrics();
        Assert.Equal(["first", "third"], metrics.Select(m => m.Key.Name));
        Assert.Equal([3.0, 4, 5], metrics[0].Points.Select(p => p.Value));
    }

    [Fact]
    public void Attribute_count_and_length_are_capped_and_invalid_ids_skipped()
    {
        var converter = new OtlpConverter(new DashboardOptions { MaxAttributeCount = 3, MaxAttributeLength = 10 });
        var span = new Span
        {
            TraceId = ByteString.CopyFrom(new byte[16] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 }),
            SpanId = ByteString.CopyFrom(new byte[8] { 1, 2, 3, 4, 5, 6, 7, 8 }),
            Name = "a name longer than ten characters",
        };
        for (var i = 0; i < 10; i++)
        {
            span.Attributes.Add(new KeyValue { Key = $"k{i}", Value = new AnyValue { StringValue = new string('v', 50) } });
        }
        var invalid = new Span { TraceId = ByteString.CopyFrom(new byte[3]), SpanId = ByteString.CopyFrom(new byte[8]) };
        var request = new ExportTraceServiceRequest { ResourceSpans = { new ResourceSpans { ScopeSpans = { new ScopeSpans { Spans = { span, invalid } } } } } };

        var converted = Assert.Single(converter.Convert(request));

        Assert.Equal(3, converted.Attributes.Count);
        Assert.All(converted.Attributes.Values, v => Assert.Equal(11, v.Length));
        Assert.Equal("a name lon…", converted.Name);
        Assert.Equal(OtlpConverter.UnknownService, converted.Resource.ServiceName);
        Assert.Equal("0102030405060708090a0b0c0d0e0f10", converted.TraceId);
    }
}
