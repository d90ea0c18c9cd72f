using System.Text.Json;
using KeyPool.Emulator.Usage;

namespace KeyPool.Emulator.Completions;

/// <summary>One emulated answer and the JSON shapes it is sent in.</summary>
internal sealed class ChatReply(string id, long created, string model, string content, TokenUsage usage)
{
    public const string SystemFingerprint = "fp_keypool_emulator";

    public string Content => content;

    public TokenUsage Usage => usage;

    /// <summary>The non-streaming <c>chat.completion</c> object.</summary>
    public void WriteCompletion(Utf8JsonWriter json)
    {
        json.WriteStartObject();
        WriteHeader(json, "chat.completion");
        json.WriteStartArray("choices");
        json.WriteStartObject();
        json.WriteNumber("index", 0);
        json.WriteStartObject("message");
        json.WriteString("role", "assistant");
        json.WriteString("content", content);
        json.WriteNull("refusal");
        json.WriteEndObject();
        json.WriteString("finish_reason", "stop");
        json.WriteEndObject();
        json.WriteEndArray();
        usage.WriteChat(json);
        json.WriteString("system_fingerprint", SystemFingerprint);
        json.WriteEndObject();
    }

    /// <summary>A <c>chat.completion.chunk</c> with one choice; <paramref name="role"/> and <paramref name="text"/> go in the delta when set.</summary>
    public void WriteChunk(Utf8JsonWriter json, string? role, string? text, string? finishReason)
    {
        json.WriteStartObject();
        WriteHeader(json, "chat.completion.chunk");
        json.WriteStartArray("choices");
        json.WriteStartObject();
        json.WriteNumber("index", 0);
        json.WriteStartObject("delta");
        if (role is not null)
        {
            json.WriteString("role", role);
        }
        if (text is not null)
        {
            json.WriteString("content", text);
        }
        json.WriteEndObject();
        if (finishReason is null)
        {
            json.WriteNull("finish_reason");
        }
        else
        {
            json.WriteString("finish_reason", finishReason);
        }
        json.WriteEndObject();
        json.WriteEndArray();
        json.WriteString("system_fingerprint", SystemFingerprint);
        json.WriteEndObject();
    }

    /// <summary>The chunk sent for <c>stream_options.include_usage</c>: no choices, only usage.</summary>
    public void WriteUsageChunk(Utf8JsonWriter json)
    {
        json.WriteStartObject();
        WriteHeader(json, "chat.completion.chunk");
        json.WriteStartArray("choices");
        json.WriteEndArray();
        usage.WriteChat(json);
        json.WriteString("system_fingerprint", SystemFingerprint);
        json.WriteEndObject();
    }

    private void WriteHeader(Utf8JsonWriter json, string objectName)
    {
        json.WriteString("id", id);
        json.WriteString("object", objectName);
        json.WriteNumber("created", created);
        json.WriteString("model", model);
    }
}
