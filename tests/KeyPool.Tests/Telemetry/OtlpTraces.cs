using System.Buffers.Binary;
using System.Text;

namespace KeyPool.Tests.Telemetry;

/// <summary>One span as an OTLP/HTTP export carried it.</summary>
public sealed record OtlpSpan(string Service, string Scope, string Name, int Kind, string TraceId, string SpanId, string ParentSpanId, IReadOnlyDictionary<string, object> Attributes);

/// <summary>
/// Reads the spans out of an <c>ExportTraceServiceRequest</c> (opentelemetry/proto/collector/trace/v1) by the
/// protobuf wire format alone: the OpenTelemetry.Proto types are not served here, and the few fields a test needs
/// (resource service name, scope, span ids, name, kind, attributes) are a short walk.
/// </summary>
public static class OtlpTraces
{
    public static List<OtlpSpan> Read(byte[] request)
    {
        var spans = new List<OtlpSpan>();
        foreach (var resourceSpans in Fields(request, 1))
        {
            var service = "";
            foreach (var resource in Fields(resourceSpans, 1))
            {
                if (Attributes(resource, 1).TryGetValue("service.name", out var name))
                {
                    service = (string)name;
                }
            }
            foreach (var scopeSpans in Fields(resourceSpans, 2))
            {
                var scope = Fields(scopeSpans, 1).Select(s => Fields(s, 1).Select(Encoding.UTF8.GetString).FirstOrDefault() ?? "").FirstOrDefault() ?? "";
                foreach (var span in Fields(scopeSpans, 2))
                {
                    spans.Add(new OtlpSpan(
                        service,
                        scope,
                        Encoding.UTF8.GetString(Fields(span, 5).FirstOrDefault() ?? []),
                        (int)Varints(span, 6).FirstOrDefault(),
                        Convert.ToHexStringLower(Fields(span, 1).FirstOrDefault() ?? []),
                        Convert.ToHexStringLower(Fields(span, 2).FirstOrDefault() ?? []),
                        Convert.ToHexStringLower(Fields(span, 4).FirstOrDefault() ?? []),
                        Attributes(span, 9)));
                }
            }
        }
        return spans;
    }

    private static Dictionary<string, object> Attributes(byte[] message, int field)
    {
        var attributes = new Dictionary<string, object>(StringComparer.Ordinal);
        foreach (var keyValue in Fields(message, field))
        {
            var key = Encoding.UTF8.GetString(Fields(keyValue, 1).FirstOrDefault() ?? []);
            var any = Fields(keyValue, 2).FirstOrDefault() ?? [];
            object value = Fields(any, 1).Select(b => (object)Encoding.UTF8.GetString(b)).FirstOrDefault()
                ?? Varints(any, 2).Select(v => (object)(v != 0)).FirstOrDefault()
                ?? Varints(any, 3).Select(v => (object)(long)v).FirstOrDefault()
                ?? Fixed64(any, 4).Select(v => (object)BitConverter.Int64BitsToDouble((long)v)).FirstOrDefault()
                ?? "";
            attributes[key] = value;
        }
        return attributes;
    }

    private static IEnumerable<byte[]> Fields(byte[] message, int number) =>
        Walk(message).Where(f => f.Number == number && f.WireType == 2).Select(f => f.Bytes!);

    private static IEnumerable<ulong> Varints(byte[] message, int number) =>
        Walk(message).Where(f => f.Number == number && f.WireType == 0).Select(f => f.Value);

    private static IEnumerable<ulong> Fixed64(byte[] message, int number) =>
        Walk(message).Where(f => f.Number == number && f.WireType == 1).Select(f => f.Value);

    private static List<(int Number, int WireType, ulong Value, byte[]? Bytes)> Walk(byte[] message)
    {
        var fields = new List<(int, int, ulong, byte[]?)>();
        var position = 0;
        while (position < message.Length)
        {
            var tag = Varint(message, ref position);
            var number = (int)(tag >> 3);
            var wireType = (int)(tag & 7);
            switch (wireType)
            {
                case 0:
                    fields.Add((number, 0, Varint(message, ref position), null));
                    break;
                case 1:
                    fields.Add((number, 1, BinaryPrimitives.ReadUInt64LittleEndian(message.AsSpan(position, 8)), null));
                    position += 8;
                    break;
                case 2:
                    var length = (int)Varint(message, ref position);
                    fields.Add((number, 2, 0, message.AsSpan(position, length).ToArray()));
                    position += length;
                    break;
                case 5:
                    fields.Add((number, 5, BinaryPrimitives.ReadUInt32LittleEndian(message.AsSpan(position, 4)), null));
                    position += 4;
                    break;
                default:
                    throw new FormatException($"wire type {wireType} at {position}");
            }
        }
        return fields;
    }

    private static ulong Varint(byte[] message, ref int position)
    {
        ulong value = 0;
        for (var shift = 0; ; shift += 7)
        {
            var b = message[position++];
            value |= (ulong)(b & 0x7f) << shift;
            if ((b & 0x80) == 0)
            {
                return value;
            }
        }
    }
}
