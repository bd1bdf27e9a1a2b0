using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace Pii.ServiceDefaults.Tests.Otlp;

/// <summary>A span as exported: resource attributes, trace id (hex), name, kind (1 internal, 2 server, 3 client), attributes, status code (2 = error).</summary>
public sealed record CapturedSpan(IReadOnlyDictionary<string, string> Resource, string TraceId, string Name, int Kind, IReadOnlyDictionary<string, string> Attributes, int StatusCode)
{
    public string ServiceName => Resource.GetValueOrDefault("service.name", "");
}

/// <summary>A log record as exported: resource attributes, severity text, body, attributes, whether it carries a trace id.</summary>
public sealed record CapturedLog(IReadOnlyDictionary<string, string> Resource, string Severity, string Body, IReadOnlyDictionary<string, string> Attributes, bool HasTraceId);

/// <summary>
/// Reads the parts of OTLP's protobuf messages these tests look at, straight from the wire format (field numbers from
/// opentelemetry-proto: trace/v1/trace.proto, logs/v1/logs.proto, common/v1/common.proto). Values are rendered as
/// strings; arrays and nested lists as their elements joined by commas.
/// </summary>
internal static class OtlpDecoder
{
    public static List<CapturedSpan> Spans(byte[] exportTraceServiceRequest)
    {
        var spans = new List<CapturedSpan>();
        foreach (var resourceSpans in Messages(exportTraceServiceRequest, 1))
        {
            var resource = ResourceAttributes(resourceSpans);
            foreach (var scopeSpans in Messages(resourceSpans, 2))
            {
                foreach (var span in Messages(scopeSpans, 2))
                {
                    string name = "", traceId = "";
                    int kind = 0, status = 0;
                    var attributes = new Dictionary<string, string>();
                    foreach (var field in Fields(span))
                    {
                        switch (field.Number)
                        {
                            case 1: traceId = Convert.ToHexStringLower(field.Bytes.Span); break;
                            case 5: name = Encoding.UTF8.GetString(field.Bytes.Span); break;
                            case 6: kind = (int)field.Varint; break;
                            case 9: AddKeyValue(attributes, field.Bytes); break;
                            case 15:
                                foreach (var statusField in Fields(field.Bytes))
                                {
                                    if (statusField.Number == 3) status = (int)statusField.Varint;
                                }
                                break;
                        }
                    }
                    spans.Add(new CapturedSpan(resource, traceId, name, kind, attributes, status));
                }
            }
        }
        return spans;
    }

    public static List<CapturedLog> Logs(byte[] exportLogsServiceRequest)
    {
        var logs = new List<CapturedLog>();
        foreach (var resourceLogs in Messages(exportLogsServiceRequest, 1))
        {
            var resource = ResourceAttributes(resourceLogs);
            foreach (var scopeLogs in Messages(resourceLogs, 2))
            {
                foreach (var record in Messages(scopeLogs, 2))
                {
                    string severity = "", body = "";
                    var hasTraceId = false;
                    var attributes = new Dictionary<string, string>();
                    foreach (var field in Fields(record))
                    {
                        switch (field.Number)
                        {
                            case 3: severity = Encoding.UTF8.GetString(field.Bytes.Span); break;
                            case 5: body = AnyValue(field.Bytes); break;
                            case 6: AddKeyValue(attributes, field.Bytes); break;
                            case 9: hasTraceId = field.Bytes.Length == 16; break;
                        }
                    }
                    logs.Add(new CapturedLog(resource, severity, body, attributes, hasTraceId));
                }
            }
        }
        return logs;
    }

    private static Dictionary<string, string> ResourceAttributes(ReadOnlyMemory<byte> resourceContainer)
    {
        var attributes = new Dictionary<string, string>();
        foreach (var resource in Messages(resourceContainer, 1))
        {
            foreach (var keyValue in Messages(resource, 1))
            {
                AddKeyValue(attributes, keyValue);
            }
        }
        return attributes;
    }

    private static void AddKeyValue(Dictionary<string, string> into, ReadOnlyMemory<byte> keyValue)
    {
        string key = "", value = "";
        foreach (var field in Fields(keyValue))
        {
            if (field.Number == 1) key = Encoding.UTF8.GetString(field.Bytes.Span);
            else if (field.Number == 2) value = AnyValue(field.Bytes);
        }
        into[key] = value;
    }

    private static string AnyValue(ReadOnlyMemory<byte> anyValue)
    {
        foreach (var field in Fields(anyValue))
        {
            switch (field.Number)
            {
                case 1: return Encoding.UTF8.GetString(field.Bytes.Span);
                case 2: return field.Varint != 0 ? "true" : "false";
                case 3: return ((long)field.Varint).ToString(CultureInfo.InvariantCulture);
                case 4: return BitConverter.Int64BitsToDouble((long)field.Varint).ToString(CultureInfo.InvariantCulture);
                case 5: return string.Join(",", Messages(field.Bytes, 1).Select(AnyValue));
                case 6: return string.Join(",", Messages(field.Bytes, 1).Select(kv => { var d = new Dictionary<string, string>(); AddKeyValue(d, kv); return string.Join(",", d.Select(p => $"{p.Key}={p.Value}")); }));
                case 7: return Convert.ToBase64String(field.Bytes.Span);
            }
        }
        return "";
    }

    private static IEnumerable<ReadOnlyMemory<byte>> Messages(ReadOnlyMemory<byte> message, int number) =>
        Fields(message).Where(f => f.Number == number && f.WireType == 2).Select(f => f.Bytes);

    private readonly record struct Field(int Number, int WireType, ulong Varint, ReadOnlyMemory<byte> Bytes);

    private static List<Field> Fields(ReadOnlyMemory<byte> message)
    {
        var fields = new List<Field>();
        var data = message.Span;
        var position = 0;
        while (position < data.Length)
        {
            var tag = ReadVarint(data, ref position);
            var number = (int)(tag >> 3);
            var wireType = (int)(tag & 7);
            switch (wireType)
            {
                case 0:
                    fields.Add(new Field(number, wireType, ReadVarint(data, ref position), default));
                    break;
                case 1:
                    fields.Add(new Field(number, wireType, BinaryPrimitives.ReadUInt64LittleEndian(data[position..]), message.Slice(position, 8)));
                    position += 8;
                    break;
                case 2:
                    var length = checked((int)ReadVarint(data, ref position));
                    fields.Add(new Field(number, wireType, 0, message.Slice(position, length)));
                    position += length;
                    break;
                case 5:
                    fields.Add(new Field(number, wireType, BinaryPrimitives.ReadUInt32LittleEndian(data[position..]), message.Slice(position, 4)));
                    position += 4;
                    break;
                default:
                    throw new FormatException($"Unsupported protobuf wire type {wireType}.");
            }
        }
        return fields;
    }

    private static ulong ReadVarint(ReadOnlySpan<byte> data, ref int position)
    {
        ulong value = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            var b = data[position++];
            value |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return value;
            }
        }
        throw new FormatException("Varint longer than 64 bits.");
    }
}
