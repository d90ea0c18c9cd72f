using System.Text.Json;
using KeyPool.Emulator.Completions;

namespace KeyPool.Emulator.Responses;

/// <summary>
/// The Responses stream grammar: each event is <c>event: &lt;type&gt;</c> plus data carrying the same
/// <c>type</c> and a <c>sequence_number</c> counting from 0. There is no <c>[DONE]</c>.
/// </summary>
internal sealed class ResponseEvents(ServerSentEvents events)
{
    private int _sequence;

    public Task WriteAsync(string type, Action<Utf8JsonWriter> writeFields, CancellationToken cancellationToken)
    {
        var sequence = _sequence++;
        return events.WriteAsync(type, json =>
        {
            json.WriteStartObject();
            json.WriteString("type", type);
            json.WriteNumber("sequence_number", sequence);
            writeFields(json);
            json.WriteEndObject();
        }, cancellationToken);
    }

    /// <summary>An event about the whole response (<c>response.created</c>, <c>response.completed</c>, …).</summary>
    public Task WriteResponseAsync(string type, ResponseReply reply, bool completed, CancellationToken cancellationToken) =>
        WriteAsync(type, json =>
        {
            json.WritePropertyName("response");
            reply.WriteResponse(json, completed);
        }, cancellationToken);

    /// <summary>An event about the text part of the message item (output 0, content 0).</summary>
    public Task WritePartAsync(string type, ResponseReply reply, Action<Utf8JsonWriter> writeFields, CancellationToken cancellationToken) =>
        WriteAsync(type, json =>
        {
            json.WriteString("item_id", reply.ItemId);
            json.WriteNumber("output_index", 0);
            json.WriteNumber("content_index", 0);
            writeFields(json);
        }, cancellationToken);
}
