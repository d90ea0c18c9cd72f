using System.Text.Json;

namespace KeyPool.Proxy;

/// <summary>Reads the message of an upstream error body: xAI's <c>{"code","error"}</c> or OpenAI's <c>{"error":{"message"}}</c>.</summary>
internal static class UpstreamErrorBody
{
    /// <summary>The message, or null when the body has none (or is not JSON). Not yet scrubbed of secrets.</summary>
    public static string? ReadMessage(ReadOnlySpan<byte> body)
    {
        try
        {
            var reader = new Utf8JsonReader(body);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return null;
            }
            string? message = null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isError = reader.ValueTextEquals("error"u8);
                var isMessage = reader.ValueTextEquals("message"u8);
                reader.Read();
                if (isError && reader.TokenType == JsonTokenType.String)
                {
                    message = reader.GetString(); // xAI: "error" is the message
                }
                else if (isError && reader.TokenType == JsonTokenType.StartObject)
                {
                    message = ReadNestedMessage(ref reader) ?? message; // OpenAI shape
                }
                else if (isMessage && reader.TokenType == JsonTokenType.String)
                {
                    message ??= reader.GetString();
                }
                else
                {
                    reader.Skip();
                }
            }
            return message;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string? ReadNestedMessage(ref Utf8JsonReader reader)
    {
        string? message = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var isMessage = reader.ValueTextEquals("message"u8);
            reader.Read();
            if (isMessage && reader.TokenType == JsonTokenType.String)
            {
                message = reader.GetString();
            }
            else
            {
                reader.Skip();
            }
        }
        return message;
    }
}
