using System.Text.Json;
using Microsoft.Net.Http.Headers;

namespace KeyPool.Emulator.Hosting;

/// <summary>Reads a JSON body the way xAI's HTTP stack rejects it: 415 without a JSON content type, 400 when it does not parse.</summary>
internal delegate RequestError? RequestParser<T>(JsonElement root, out T? request) where T : class;

internal static class JsonBody
{
    /// <summary>Reads and parses a request body; on any problem the exchange has already been answered and null is returned.</summary>
    public static async Task<T?> ReadAsync<T>(Exchange exchange, RequestParser<T> parse) where T : class
    {
        using var body = await ReadAsync(exchange);
        if (body is null)
        {
            return null;
        }
        if (parse(body.RootElement, out var request) is { } error)
        {
            await exchange.FailAsync(error.Status, error.Message, "invalid_request");
            return null;
        }
        return request;
    }

    public static async Task<JsonDocument?> ReadAsync(Exchange exchange)
    {
        var request = exchange.Http.Request;
        if (!IsJson(request.ContentType))
        {
            await exchange.FailAsync(415, "Expected request with `Content-Type: application/json`", "unsupported_media_type");
            return null;
        }
        try
        {
            // Strict like a careful provider: a body with a member twice is refused, so a gateway that duplicates one is caught.
            return await JsonDocument.ParseAsync(request.Body, new JsonDocumentOptions { AllowDuplicateProperties = false }, exchange.Aborted);
        }
        catch (JsonException e)
        {
            await exchange.FailAsync(400, $"Failed to parse the request body as JSON: {e.Message}", "invalid_json");
            return null;
        }
    }

    private static bool IsJson(string? contentType) =>
        MediaTypeHeaderValue.TryParse(contentType, out var media)
        && (media.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || media.Suffix.Equals("json", StringComparison.OrdinalIgnoreCase));
}
