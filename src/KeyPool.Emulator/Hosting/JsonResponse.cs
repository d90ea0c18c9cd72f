using System.Buffers;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace KeyPool.Emulator.Hosting;

/// <summary>Writes a 200 JSON body built with a Utf8JsonWriter, with its Content-Length.</summary>
internal static class JsonResponse
{
    public static async Task WriteAsync(HttpResponse response, Action<Utf8JsonWriter> write, CancellationToken cancellationToken)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var json = new Utf8JsonWriter(buffer))
        {
            write(json);
        }
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/json";
        response.ContentLength = buffer.WrittenCount;
        await response.Body.WriteAsync(buffer.WrittenMemory, cancellationToken);
    }
}
