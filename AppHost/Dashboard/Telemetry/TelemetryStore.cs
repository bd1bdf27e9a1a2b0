namespace Pii.AppHost.Dashboard.Telemetry;

/// <summary>
/// Everything the OTLP receiver accepted, in memory and bounded: logs in a ring buffer, traces evicted oldest first
/// (by first arrival), instruments evicted least recently updated first, points per instrument in a ring buffer.
/// One lock per signal; readers get snapshots.
/// </summary>
public sealed class TelemetryStore(DashboardOptions options)
{
    private readonly object _logLock = new();
    private readonly LogData?[] _logs = new LogData?[Math.Max(1, options.MaxLogCount)];
    private long _logCount;

    private readonly object _traceLock = new();
    private readonly Dictionary<string, List<SpanData>> _traces = new(StringComparer.Ordinal);
    private readonly LinkedList<string> _traceOrder = new();

    private readonly object _metricLock = new();
    private readonly Dictionary<MetricKey, Instrument> _instruments = [];
    private long _metricClock;

    public long DroppedSpans { get; private set; }

    /// <summary>Stores the records, numbering them in arrival order (their <see cref="LogData.Sequence"/> is replaced).</summary>
    public void AddLogs(IEnumerable<LogData> records)
    {
        lock (_logLock)
        {
            foreach (var record in records)
            {
                var sequence = _logCount++;
                _logs[sequence % _logs.Length] = record with { Sequence = sequence };
            }
        }
    }

    /// <summary>Newest last.</summary>
    public IReadOnlyList<LogData> GetLogs()
    {
        lock (_logLock)
        {
            var count = (int)Math.Min(_logCount, _logs.Length);
            var result = new List<LogData>(count);
            for (var sequence = _logCount - count; sequence < _logCount; sequence++)
            {
                result.Add(_logs[sequence % _logs.Length]!);
            }
            return result;
        }
    }

    public void AddSpans(IEnumerable<SpanData> spans)
    {
        lock (_traceLock)
        {
            foreach (var span in spans)
            {
                if (!_traces.TryGetValue(span.TraceId, out var list))
                {
                    list = [];
                    _traces[span.TraceId] = list;
                    _traceOrder.AddLast(span.TraceId);
                    while (_traces.Count > options.MaxTraceCount)
                    {
                        var oldest = _traceOrder.First!.Value;
                        _traceOrder.RemoveFirst();
                        _traces.Remove(oldest);
                    }
                }
                if (list.Count >= options.MaxSpansPerTrace)
                {
                    DroppedSpans++;
                    continue;
                }
                list.Add(span);
            }
        }
    }

    /// <summary>Traces, newest (by first arrival) first.</summary>
    public IReadOnlyList<TraceData> GetTraces()
    {
        lock (_traceLock)
        {
            var result = new List<TraceData>(_traces.Count);
            for (var node = _traceOrder.Last; node is not null; node = node.Previous)
            {
                result.Add(Snapshot(node.Value, _traces[node.Value]));
            }
            return result;
        }
    }

    public TraceData? GetTrace(string traceId)
    {
        lock (_traceLock)
        {
            return _traces.TryGetValue(traceId, out var spans) ? Snapshot(traceId, spans) : null;
        }
    }

    private static TraceData Snapshot(string traceId, List<SpanData> spans) =>
        new(traceId, spans.OrderBy(s => s.StartTime).ToList());

    public void AddMetricPoint(MetricKey key, string description, string unit, string kind, MetricPoint point)
    {
        lock (_metricLock)
        {
            if (!_instruments.TryGetValue(key, out var instrument))
            {
                if (_instruments.Count >= options.MaxInstrumentCount)
                {
                    var stalest = _instruments.MinBy(pair => pair.Value.LastUpdate).Key;
                    _instruments.Remove(stalest);
                }
                instrument = new Instrument(Math.Max(1, options.MaxPointsPerInstrument));
                _instruments[key] = instrument;
            }
            instrument.Description = description;
            instrument.Unit = unit;
            instrument.Kind = kind;
            instrument.LastUpdate = ++_metricClock;
            instrument.Add(point);
        }
    }

    public IReadOnlyList<MetricSeries> GetMetrics()
    {
        lock (_metricLock)
        {
            return _instruments
                .Select(pair => new MetricSeries(pair.Key, pair.Value.Description, pair.Value.Unit, pair.Value.Kind, pair.Value.Points()))
                .OrderBy(s => s.Key.Resource.ServiceName, StringComparer.Ordinal)
                .ThenBy(s => s.Key.Meter, StringComparer.Ordinal)
                .ThenBy(s => s.Key.Name, StringComparer.Ordinal)
                .ToList();
        }
    }

    private sealed class Instrument(int capacity)
    {
        private readonly MetricPoint[] _points = new MetricPoint[capacity];
        private long _count;

        public string Description { get; set; } = "";
        public string Unit { get; set; } = "";
        public string Kind { get; set; } = "";
        public long LastUpdate { get; set; }

        public void Add(MetricPoint point) => _points[_count++ % _points.Length] = point;

        public List<MetricPoint> Points()
        {
            var count = (int)Math.Min(_count, _points.Length);
            var result = new List<MetricPoint>(count);
            for (var i = _count - count; i < _count; i++)
            {
                result.Add(_points[i % _points.Length]);
            }
            return result;
        }
    }
}
