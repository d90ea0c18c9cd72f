using System.Text.Json;
using System.Text.Unicode;

namespace KeyPool.Proxy;

/// <summary>
/// The few top-level fields the gateway needs from a request body, read with
/// <see cref="Utf8JsonReader"/> so the body is never deserialised into objects.
/// </summary>
internal readonly record struct ChatRequest(string? Model, string? User, bool Stream, bool HasStreamOptions, bool IncludeUsage, long? MaxTokens)
{
    /// <summary>The deepest nesting accepted; the rewrite (<see cref="RequestBodyRewriter"/>) must accept the same.</summary>
    public const int MaxDepth = 256;

    /// <summary>The error code of a body that is not valid JSON (or not UTF-8, or not an object).</summary>
    public const string InvalidJson = "invalid_json";

    /// <summary>The error code of a <c>messages</c> or <c>input</c> array longer than allowed.</summary>
    public const string TooManyItems = "too_many_items";

    /// <summary>Reads <paramref name="body"/>; null with <paramref name="error"/> set when it is not a JSON object.</summary>
    public static ChatRequest? Read(ReadOnlySpan<byte> body, out string? error) => Read(body, int.MaxValue, out error, out _);

    /// <summary>
    /// Reads <paramref name="body"/>; null with <paramref name="error"/> and <paramref name="code"/> set when it is not
    /// a UTF-8 JSON object, or its <c>messages</c> or <c>input</c> array has more than <paramref name="maxItems"/> items.
    /// Never throws on any input.
    /// </summary>
    public static ChatRequest? Read(ReadOnlySpan<byte> body, int maxItems, out string? error, out string? code)
    {
        error = null;
        code = InvalidJson;
        // The upstream must never get bytes it cannot decode; the reader alone does not check strings it skips.
        if (!Utf8.IsValid(body))
        {
            error = "The request body is not valid UTF-8.";
            return null;
        }
        var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = MaxDepth });
        string? model = null, user = null;
        bool stream = false, hasStreamOptions = false, includeUsage = false;
        long? maxTokens = null;
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                error = "The request body must be a JSON object.";
                return null;
            }
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("model"u8))
                {
                    reader.Read();
                    model = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                }
                else if (reader.ValueTextEquals("user"u8))
                {
                    reader.Read();
                    user = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                }
                else if (reader.ValueTextEquals("stream"u8))
                {
                    reader.Read();
                    stream = reader.TokenType == JsonTokenType.True;
                }
                else if (reader.ValueTextEquals("max_tokens"u8) || reader.ValueTextEquals("max_completion_tokens"u8) || reader.ValueTextEquals("max_output_tokens"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var max))
                    {
                        maxTokens = max;
                    }
                }
                else if (reader.ValueTextEquals("messages"u8) || reader.ValueTextEquals("input"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.StartArray && !WithinItems(ref reader, maxItems))
                    {
                        error = $"The request's \"messages\" or \"input\" array has more than {maxItems} items (KeyPool:Limits:MaxMessages).";
                        code = TooManyItems;
                        return null;
                    }
                }
                else if (reader.ValueTextEquals("stream_options"u8))
                {
                    reader.Read();
                    hasStreamOptions = true; // any value, null included: a rewrite must replace it, not add a second member
                    includeUsage = reader.TokenType == JsonTokenType.StartObject && ReadIncludeUsage(ref reader);
                }
                else
                {
                    reader.Read();
                }
                reader.Skip();
            }
            // Reading to the end validates the rest of the document too.
            while (reader.Read())
            {
            }
        }
        catch (JsonException exception)
        {
            error = $"The request body is not valid JSON: {exception.Message}";
            return null;
        }
        catch (InvalidOperationException exception)
        {
            // GetString on an escape that is no text (a lone surrogate such as "\ud800").
            error = $"The request body has a string that is not valid text: {exception.Message}";
            return null;
        }
        code = null;
        return new ChatRequest(model, user, stream, hasStreamOptions, includeUsage, maxTokens);
    }

    // Counts the array's items without reading them; leaves the reader on its EndArray so the caller's Skip() is a no-op.
    private static bool WithinItems(ref Utf8JsonReader reader, int maxItems)
    {
        var count = 0;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (++count > maxItems)
            {
                return false;
            }
            reader.Skip();
        }
        return true;
    }

    // Leaves the reader on the object's EndObject so the caller's Skip() is a no-op.
    private static bool ReadIncludeUsage(ref Utf8JsonReader reader)
    {
        var include = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var isInclude = reader.ValueTextEquals("include_usage"u8);
            reader.Read();
            if (isInclude)
            {
                include = reader.TokenType == JsonTokenType.True;
            }
            reader.Skip();
        }
        return include;
    }
}
