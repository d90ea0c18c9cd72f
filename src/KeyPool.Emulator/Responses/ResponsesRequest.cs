using System.Text.Json;
using KeyPool.Emulator.Hosting;

namespace KeyPool.Emulator.Responses;

/// <summary>The parts of a /v1/responses body the emulator looks at.</summary>
internal sealed record ResponsesRequest(
    string Model,
    string? Instructions,
    IReadOnlyList<(string Role, string Text)> Input,
    bool Stream,
    int? MaxOutputTokens,
    string? User,
    string? PromptCacheKey)
{
    /// <summary><c>store</c>: default true, the answer is kept for 30 days.</summary>
    public bool Store { get; init; } = true;

    /// <summary>The stored response this one continues; its whole conversation is billed again.</summary>
    public string? PreviousResponseId { get; init; }

    public static RequestError? TryParse(JsonElement root, out ResponsesRequest? request)
    {
        request = null;
        if (root.ValueKind != JsonValueKind.Object)
        {
            return RequestError.NotAnObject();
        }
        RequestError?[] errors =
        [
            JsonFields.String(root, "model", required: true, out var model),
            JsonFields.String(root, "instructions", required: false, out var instructions),
            ParseInput(root, out var input),
            JsonFields.Bool(root, "stream", out var stream),
            JsonFields.PositiveInt(root, "max_output_tokens", out var maxOutputTokens),
            JsonFields.String(root, "user", required: false, out var user),
            JsonFields.String(root, "prompt_cache_key", required: false, out var promptCacheKey),
            JsonFields.String(root, "previous_response_id", required: false, out var previousResponseId),
            ParseStore(root, out var store),
        ];
        if (errors.FirstOrDefault(e => e is not null) is { } error)
        {
            return error;
        }
        request = new ResponsesRequest(model!, instructions, input!, stream, maxOutputTokens, user, promptCacheKey)
        {
            Store = store,
            PreviousResponseId = previousResponseId,
        };
        return null;
    }

    /// <summary>The prompt as the model reads it: instructions, the stored conversation continued, then this input.</summary>
    public List<(string Role, string Text)> Prompt(IReadOnlyList<(string Role, string Text)> history)
    {
        var messages = new List<(string, string)>(history.Count + Input.Count + 1);
        if (Instructions is not null)
        {
            messages.Add(("system", Instructions));
        }
        messages.AddRange(history);
        messages.AddRange(Input);
        return messages;
    }

    private static RequestError? ParseStore(JsonElement root, out bool store)
    {
        var error = JsonFields.Bool(root, "store", out store);
        if (!root.TryGetProperty("store", out var value) || value.ValueKind == JsonValueKind.Null)
        {
            store = true;
        }
        return error;
    }

    private static RequestError? ParseInput(JsonElement root, out List<(string, string)>? input)
    {
        input = null;
        if (!root.TryGetProperty("input", out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return RequestError.Missing("input");
        }
        if (value.ValueKind == JsonValueKind.String)
        {
            input = [("user", value.GetString() ?? "")];
            return null;
        }
        if (value.ValueKind != JsonValueKind.Array)
        {
            return RequestError.WrongType("input", "a string or a sequence of input items");
        }
        input = [];
        var index = 0;
        foreach (var item in value.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Object)
            {
                return RequestError.WrongType($"input[{index}]", "an input item");
            }
            var role = item.TryGetProperty("role", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString()! : "user";
            var content = item.TryGetProperty("content", out var c) ? c : default;
            if (!JsonFields.TryReadContent(content, out var text))
            {
                return RequestError.WrongType($"input[{index}].content", "a string or an array of content parts");
            }
            input.Add((role, text));
            index++;
        }
        return input.Count == 0 ? RequestError.Invalid("input must contain at least one item.") : null;
    }
}
