namespace Pii.AppHost.Tests.Support;

/// <summary>
/// Just enough of the protobuf wire format to read OTLP trace exports: which service sent which spans of which trace.
/// Layout read (opentelemetry-proto): ExportTraceServiceRequest{1: ResourceSpans{1: Resource{1: KeyValue{1: key,
/// 2: AnyValue{1: string_value}}}, 2: ScopeSpans{2: Span{1: trace_id, 5: name}}}}. Everything else is skipped.
/// </summary>
internal static class OtlpWire
{
    public sealed record Span(string Service, string TraceId, string Name);

    public static IEnumerable<Span> Spans(byte[] exportTraceServiceRequest)
    {
        foreach (var (field, resourceSpans) in Fields(exportTraceServiceRequest))
        {
            if (field != 1) continue;
            var service = "";
            var spans = new List<(string TraceId, string Name)>();
            foreach (var (inner, value) in Fields(resourceSpans))
            {
                if (inner == 1) service = ServiceName(value) ?? service;
                if (inner != 2) continue;
                foreach (var (scopeField, span) in Fields(value))
                {
                    if (scopeField != 2) continue;
                    string traceId = "", name = "";
                    foreach (var (spanField, spanValue) in Fields(span))
                    {
                        if (spanField == 1) traceId = Convert.ToHexStringLower(spanValue);
                        if (spanField == 5) name = System.Text.Encoding.UTF8.GetString(spanValue);
                    }
                    spans.Add((traceId, name));
                }
            }
            foreach (var (traceId, name) in spans) yield return new Span(service, traceId, name);
        }
    }

    private static string? ServiceName(byte[] resource)
    {
        foreach (var (field, attribute) in Fields(resource))
        {
            if (field != 1) continue;
            string? key = null, value = null;
            foreach (var (attributeField, content) in Fields(attribute))
            {
                if (attributeField == 1) key = System.Text.Encoding.UTF8.GetString(content);
                if (attributeField == 2) value = Fields(content).Where(f => f.Field == 1).Select(f => System.Text.Encoding.UTF8.GetString(f.Value)).FirstOrDefault();
            }
            if (key == "service.name") return value;
        }
        return null;
    }

    /// <summary>The length-delimited fields of a message (numbers and their bytes); varint and fixed fields are skipped.</summary>
    private static IEnumerable<(int Field, byte[] Value)> Fields(byte[] message)
    {
        var position = 0;
        while (position < message.Length)
        {
            var tag = ReadVarint(message, ref position);
            var field = (int)(tag >> 3);
            switch (tag & 7)
            {
                case 0: ReadVarint(message, ref position); break;
                case 1: position += 8; break;
                case 5: position += 4; break;
                case 2:
                    var length = (int)ReadVarint(message, ref position);
                    if (length < 0 || position + length > message.Length) throw new InvalidDataException("Truncated protobuf field.");
                    yield return (field, message[position..(position + length)]);
                    position += length;
                    break;
                default: throw new InvalidDataException($"Unsupported protobuf wire type {tag & 7}.");
            }
        }
    }

    private static ulong ReadVarint(byte[] message, ref int position)
    {
        ulong value = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            if (position >= message.Length) throw new InvalidDataException("Truncated varint.");
            var b = message[position++];
            value |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0) return value;
        }
        throw new InvalidDataException("Varint too long.");
    }
}
