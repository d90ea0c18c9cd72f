using System.Buffers;
using System.IO.Pipelines;
using System.Text.Json;

namespace KeyPool.Proxy;

/// <summary>
/// What the relay learns from a Responses stream: typed events (<c>event: &lt;type&gt;</c>, data with the same
/// <c>type</c> and a <c>sequence_number</c>) and no <c>[DONE]</c>. The stream ends with <c>response.completed</c>,
/// <c>response.failed</c>, <c>response.incomplete</c> or an <c>error</c> event; the first three carry the whole
/// response with its usage. A stream that stops before one of them was cut, and the client is told so the way the
/// grammar does: an <c>error</c> event numbered after the last one relayed.
/// </summary>
internal sealed class ResponsesStreamState : SseRelay.State
{
    private long _nextSequence;

    /// <summary>Whether <paramref name="path"/> (below /v1) streams in the Responses grammar.</summary>
    public static bool Handles(string path) => path.Equals("/responses", StringComparison.Ordinal);

    public override bool Inspect(ReadOnlySpan<byte> ev, bool stripUsageChunk)
    {
        var data = SseRelay.Data(ev);
        if (data.IsEmpty)
        {
            return true; // a comment or keep-alive
        }
        _nextSequence++;
        var type = SseRelay.Field(ev, "event:"u8);
        if (type.IsEmpty)
        {
            type = TypeOf(data, out var sequence);
            if (sequence >= 0)
            {
                _nextSequence = sequence + 1;
            }
        }
        if (type.SequenceEqual("response.completed"u8) || type.SequenceEqual("response.failed"u8) || type.SequenceEqual("response.incomplete"u8))
        {
            Done = true;
            if (UsageReader.TryRead(data, out var counts, out _))
            {
                Usage = counts;
            }
        }
        else if (type.SequenceEqual("error"u8))
        {
            Done = true; // the upstream ended it in the grammar's own way: nothing to add
        }
        return true;
    }

    public override void WriteError(PipeWriter client)
    {
        client.Write("event: error\ndata: "u8);
        using (var json = new Utf8JsonWriter(client))
        {
            json.WriteStartObject();
            json.WriteString("type"u8, "error"u8);
            json.WriteNumber("sequence_number"u8, _nextSequence);
            json.WriteString("code"u8, SseRelay.StreamFailedCode);
            json.WriteString("message"u8, SseRelay.StreamFailedMessage);
            json.WriteNull("param"u8);
            json.WriteEndObject();
        }
        client.Write("\n\n"u8);
    }

    /// <summary>The data's top-level <c>type</c> (for upstreams that send no <c>event:</c> line) and its sequence number, -1 when absent.</summary>
    private static ReadOnlySpan<byte> TypeOf(ReadOnlySpan<byte> data, out long sequence)
    {
        sequence = -1;
        ReadOnlySpan<byte> type = default;
        try
        {
            var reader = new Utf8JsonReader(data);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return default;
            }
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isType = reader.ValueTextEquals("type"u8);
                var isSequence = reader.ValueTextEquals("sequence_number"u8);
                reader.Read();
                if (isType && reader.TokenType == JsonTokenType.String && !reader.ValueIsEscaped)
                {
                    type = reader.ValueSpan;
                }
                else if (isSequence && reader.TokenType == JsonTokenType.Number)
                {
                    reader.TryGetInt64(out sequence);
                }
                else
                {
                    reader.Skip();
                }
            }
        }
        catch (JsonException)
        {
            return type; // malformed data is relayed as it is
        }
        return type;
    }
}
