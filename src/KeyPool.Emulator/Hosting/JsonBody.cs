using System.Text.Json;
using Microsoft.Net.Http.Headers;

namespace KeyPool.Emulator.Hosting;

/// <summary>Reads a JSON body the way xAI's HTTP stack rejects it: 415 without a JSON content type, 400 when it does not parse.</summary>
internal static class JsonBody
{
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
            return await JsonDocument.ParseAsync(request.Body, default, exchange.Aborted);
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
