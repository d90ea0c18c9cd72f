using System.Text.Json;
using KeyPool.Core.Keys;
using KeyPool.Errors;

namespace KeyPool.Proxy;

/// <summary>
/// Turns an upstream error body (xAI's <c>{"code","error"}</c>, or OpenAI's shape) into OpenAI's shape
/// with any key masked. Errors about the gateway's own key are not the caller's fault: they become 502.
/// </summary>
internal static class UpstreamErrorTranslator
{
    public readonly record struct Translated(int Status, byte[] Body, bool KeyRejected, bool CreditsExhausted, string Message);

    public static Translated Translate(int status, ReadOnlySpan<byte> body, KeyRing ring, int group)
    {
        var message = ReadMessage(body) ?? $"The upstream answered {status}.";
        message = SecretScrubber.Scrub(message, ring);
        var keyRejected = status is 401 or 403 || (status == 400 && message.Contains("API key", StringComparison.OrdinalIgnoreCase));
        var creditsExhausted = status == 429 && (message.Contains("credits", StringComparison.OrdinalIgnoreCase) || message.Contains("spending limit", StringComparison.OrdinalIgnoreCase));
        if (keyRejected)
        {
            var text = $"The upstream rejected the API key of group {group} ({message}). The gateway operator must replace or re-enable it.";
            return new(502, OpenAiError.Serialize(text, OpenAiError.Upstream, "upstream_key_rejected"), true, false, message);
        }
        var code = status switch
        {
            400 => "invalid_request",
            404 => "not_found",
            413 => "request_too_large",
            422 => "invalid_request",
            429 => creditsExhausted ? "upstream_credits_exhausted" : "rate_limit_exceeded",
            >= 500 => "upstream_error",
            _ => "upstream_error",
        };
        return new(status, OpenAiError.Serialize(message, OpenAiError.TypeFor(status), code), false, creditsExhausted, message);
    }

    private static string? ReadMessage(ReadOnlySpan<byte> body)
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
