using System.Text.Json;
using KeyPool.Emulator.Usage;

namespace KeyPool.Emulator.Responses;

/// <summary>One emulated /v1/responses answer and the JSON shapes it is sent in (whole, or piece by piece in a stream).</summary>
internal sealed class ResponseReply(string id, long createdAt, ResponsesRequest request, string text, TokenUsage usage)
{
    public string Id => id;

    public string ItemId { get; } = "msg_" + id["resp_".Length..];

    public string Text => text;

    public TokenUsage Usage => usage;

    /// <summary>
    /// The response object. In progress it has no output and no usage (as in <c>response.created</c>);
    /// completed it carries the whole answer with usage.
    /// </summary>
    public void WriteResponse(Utf8JsonWriter json, bool completed)
    {
        json.WriteStartObject();
        json.WriteString("id", id);
        json.WriteString("object", "response");
        json.WriteNumber("created_at", createdAt);
        json.WriteString("status", completed ? "completed" : "in_progress");
        json.WriteNull("error");
        json.WriteNull("incomplete_details");
        WriteNullable(json, "instructions", request.Instructions);
        if (request.MaxOutputTokens is { } max)
        {
            json.WriteNumber("max_output_tokens", max);
        }
        else
        {
            json.WriteNull("max_output_tokens");
        }
        json.WriteString("model", request.Model);
        json.WriteStartArray("output");
        if (completed)
        {
            WriteMessageItem(json, completed: true);
        }
        json.WriteEndArray();
        json.WriteBoolean("parallel_tool_calls", true);
        WriteNullable(json, "previous_response_id", request.PreviousResponseId);
        json.WriteBoolean("store", request.Store);
        json.WriteNumber("temperature", 1);
        json.WriteStartObject("text");
        json.WriteStartObject("format");
        json.WriteString("type", "text");
        json.WriteEndObject();
        json.WriteEndObject();
        json.WriteString("tool_choice", "auto");
        json.WriteStartArray("tools");
        json.WriteEndArray();
        json.WriteNumber("top_p", 1);
        WriteNullable(json, "user", request.User);
        json.WriteStartObject("metadata");
        json.WriteEndObject();
        if (completed)
        {
            usage.WriteResponses(json);
        }
        else
        {
            json.WriteNull("usage");
        }
        json.WriteEndObject();
    }

    /// <summary>The assistant message item; in progress it has no content yet.</summary>
    public void WriteMessageItem(Utf8JsonWriter json, bool completed)
    {
        json.WriteStartObject();
        json.WriteString("type", "message");
        json.WriteString("id", ItemId);
        json.WriteString("status", completed ? "completed" : "in_progress");
        json.WriteString("role", "assistant");
        json.WriteStartArray("content");
        if (completed)
        {
            WriteTextPart(json, text);
        }
        json.WriteEndArray();
        json.WriteEndObject();
    }

    public static void WriteTextPart(Utf8JsonWriter json, string partText)
    {
        json.WriteStartObject();
        json.WriteString("type", "output_text");
        json.WriteString("text", partText);
        json.WriteStartArray("annotations");
        json.WriteEndArray();
        json.WriteStartArray("logprobs");
        json.WriteEndArray();
        json.WriteEndObject();
    }

    private static void WriteNullable(Utf8JsonWriter json, string name, string? value)
    {
        if (value is null)
        {
            json.WriteNull(name);
        }
        else
        {
            json.WriteString(name, value);
        }
    }
}
