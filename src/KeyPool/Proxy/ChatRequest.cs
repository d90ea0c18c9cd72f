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

    /// <summary>The error code of a body that names a member the gateway reads or rewrites twice (in any spelling of its case).</summary>
    public const string DuplicateMember = "duplicate_member";

    /// <summary>The error code of a <c>messages</c> or <c>input</c> array longer than allowed.</summary>
    public const string TooManyItems = "too_many_items";

    // The members the gateway reads or rewrites. Another reader of the same body (the upstream) may take the first of two,
    // or match names regardless of case: each may appear once, spelled exactly.
    private static readonly string[] Watched =
        ["model", "user", "stream", "stream_options", "max_tokens", "max_completion_tokens", "max_output_tokens", "messages", "input"];

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
            var seen = 0;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (!FirstOfItsName(ref reader, ref seen, out var name))
                {
                    error = $"The request body names the member \"{name}\" more than once (or in another case): each of {string.Join(", ", Watched)} may appear once, spelled in lower case.";
                    code = DuplicateMember;
                    return null;
                }
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
                    if (reader.TokenType == JsonTokenType.StartObject && !ReadIncludeUsage(ref reader, out includeUsage))
                    {
                        error = "The request body's \"stream_options\" names \"include_usage\" more than once (or in another case).";
                        code = DuplicateMember;
                        return null;
                    }
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

    // Leaves the reader on the object's EndObject so the caller's Skip() is a no-op; false when include_usage appears twice.
    private static bool ReadIncludeUsage(ref Utf8JsonReader reader, out bool include)
    {
        include = false;
        var seen = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var isInclude = NameIs(ref reader, "include_usage");
            if (isInclude)
            {
                if (seen || !reader.ValueTextEquals("include_usage"u8))
                {
                    return false;
                }
                seen = true;
            }
            reader.Read();
            if (isInclude)
            {
                include = reader.TokenType == JsonTokenType.True;
            }
            reader.Skip();
        }
        return true;
    }

    /// <summary>
    /// False when the property name under the reader is a watched member seen before, or a watched member spelled in
    /// another case (<paramref name="name"/> is then the name as sent); allocation-free for the names of a normal body.
    /// </summary>
    private static bool FirstOfItsName(ref Utf8JsonReader reader, ref int seen, out string? name)
    {
        name = null;
        for (var i = 0; i < Watched.Length; i++)
        {
            if (!NameIs(ref reader, Watched[i]))
            {
                continue;
            }
            var bit = 1 << i;
            if ((seen & bit) != 0 || !reader.ValueTextEquals(Watched[i]))
            {
                name = reader.GetString();
                return false;
            }
            seen |= bit;
            return true;
        }
        return true;
    }

    // Case-insensitive (ASCII) comparison of the property name under the reader, its escapes undone.
    private static bool NameIs(ref Utf8JsonReader reader, string expected)
    {
        if (!reader.ValueIsEscaped)
        {
            return reader.ValueSpan.Length == expected.Length && System.Text.Ascii.EqualsIgnoreCase(reader.ValueSpan, expected);
        }
        if (reader.ValueSpan.Length > 256)
        {
            return false; // at least 43 characters once unescaped: longer than any watched name
        }
        Span<byte> unescaped = stackalloc byte[256];
        var length = reader.CopyString(unescaped);
        return length == expected.Length && System.Text.Ascii.EqualsIgnoreCase(unescaped[..length], expected);
    }
}
