using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace KeyPool.Emulator.Errors;

/// <summary>Writes xAI's error body: <c>{"code":"…","error":"…"}</c>.</summary>
internal static class XaiError
{
    public static async Task WriteAsync(HttpResponse response, int status, string code, string message, CancellationToken cancellationToken)
    {
        response.StatusCode = status;
        response.ContentType = "application/json";
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("code", code);
            json.WriteString("error", message);
            json.WriteEndObject();
        }
        response.ContentLength = buffer.WrittenCount;
        await response.Body.WriteAsync(buffer.WrittenMemory, cancellationToken);
    }

    public static string InvalidKeyMessage(string maskedKey) =>
        $"Incorrect API key provided: {maskedKey}. You can obtain an API key from the console.";
}
