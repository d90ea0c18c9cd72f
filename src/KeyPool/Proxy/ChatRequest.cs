using System.Text.Json;

namespace KeyPool.Proxy;

/// <summary>
/// The few top-level fields the gateway needs from a request body, read with
/// <see cref="Utf8JsonReader"/> so the body is never deserialised into objects.
/// </summary>
internal readonly record struct ChatRequest(string? Model, string? User, bool Stream, bool HasStreamOptions, bool IncludeUsage, long? MaxTokens)
{
    /// <summary>Reads <paramref name="body"/>; null with <paramref name="error"/> set when it is not a JSON object.</summary>
    public static ChatRequest? Read(ReadOnlySpan<byte> body, out string? error)
    {
        error = null;
        var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = 256 });
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
        return new ChatRequest(model, user, stream, hasStreamOptions, includeUsage, maxTokens);
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
