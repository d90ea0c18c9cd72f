using System.Text.Json;
using KeyPool.Emulator.Hosting;

namespace KeyPool.Emulator.Completions;

/// <summary>The parts of a chat-completions body the emulator looks at.</summary>
internal sealed record ChatRequest(
    string Model,
    IReadOnlyList<(string Role, string Text)> Messages,
    bool Stream,
    bool IncludeUsage,
    int? MaxTokens,
    string? User)
{
    /// <summary>xAI's <c>"deferred": true</c>: answer a request id now, the completion on a later poll.</summary>
    public bool Deferred { get; init; }

    public long ContentChars => Messages.Sum(m => (long)m.Text.Length);

    public static RequestError? TryParse(JsonElement root, out ChatRequest? request)
    {
        request = null;
        if (root.ValueKind != JsonValueKind.Object)
        {
            return RequestError.NotAnObject();
        }
        // Every field is read (each out is then assigned); the first problem wins.
        RequestError?[] errors =
        [
            JsonFields.String(root, "model", required: true, out var model),
            ParseMessages(root, out var messages),
            JsonFields.Bool(root, "stream", out var stream),
            ParseIncludeUsage(root, out var includeUsage),
            JsonFields.PositiveInt(root, "max_tokens", out var maxTokens),
            JsonFields.PositiveInt(root, "max_completion_tokens", out var maxCompletionTokens),
            JsonFields.String(root, "user", required: false, out var user),
            JsonFields.Bool(root, "deferred", out var deferred),
        ];
        if (errors.FirstOrDefault(e => e is not null) is { } error)
        {
            return error;
        }
        if (deferred && stream)
        {
            return RequestError.Invalid("A deferred completion cannot be streamed.");
        }
        request = new ChatRequest(model!, messages!, stream, includeUsage, maxCompletionTokens ?? maxTokens, user) { Deferred = deferred };
        return null;
    }

    private static RequestError? ParseMessages(JsonElement root, out List<(string, string)>? messages)
    {
        messages = null;
        if (!root.TryGetProperty("messages", out var array) || array.ValueKind == JsonValueKind.Null)
        {
            return RequestError.Missing("messages");
        }
        if (array.ValueKind != JsonValueKind.Array)
        {
            return RequestError.WrongType("messages", "a sequence");
        }
        messages = new List<(string, string)>(array.GetArrayLength());
        var index = 0;
        foreach (var message in array.EnumerateArray())
        {
            if (message.ValueKind != JsonValueKind.Object)
            {
                return RequestError.WrongType($"messages[{index}]", "a message object");
            }
            if (!message.TryGetProperty("role", out var role) || role.ValueKind != JsonValueKind.String)
            {
                return RequestError.Missing($"messages[{index}].role");
            }
            if (!message.TryGetProperty("content", out var content))
            {
                content = default;
            }
            if (!JsonFields.TryReadContent(content, out var text))
            {
                return RequestError.WrongType($"messages[{index}].content", "a string or an array of content parts");
            }
            messages.Add((role.GetString()!, text));
            index++;
        }
        return messages.Count == 0 ? RequestError.Invalid("messages must contain at least one message.") : null;
    }

    private static RequestError? ParseIncludeUsage(JsonElement root, out bool includeUsage)
    {
        includeUsage = false;
        if (!root.TryGetProperty("stream_options", out var options) || options.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        return options.ValueKind == JsonValueKind.Object
            ? JsonFields.Bool(options, "include_usage", out includeUsage)
            : RequestError.WrongType("stream_options", "an object");
    }
}
