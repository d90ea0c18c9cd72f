using System.Buffers;
using System.Text.Json;

namespace KeyPool.Proxy;

/// <summary>
/// Relays a JSON answer whole: it is read to the end before the first byte goes to the client, so a
/// body that fails half-way reaches nobody and another key may still answer. Usage is read from it.
/// An answer larger than the buffering cap is streamed through instead (uncounted: its reservation stays).
/// </summary>
internal static class JsonRelay
{
    public static async Task<TokenCounts?> RelayAsync(ProxyExchange exchange, HttpResponseMessage response, long maxBuffered)
    {
        var declared = response.Content.Headers.ContentLength;
        var expected = declared is { } length and > 0 ? (int)Math.Min(length, 64 * 1024) : 16 * 1024;
        await using var stream = await response.Content.ReadAsStreamAsync(exchange.Cancellation);
        var (buffer, total, tooLarge) = await PooledRead.ReadAsync(stream, expected, maxBuffered, exchange.Cancellation);
        try
        {
            if (!tooLarge && !IsOneJsonValue(buffer.AsSpan(0, total)))
            {
                // Garbage with a JSON content type: nothing reached the client, so another key may still answer.
                throw new InvalidDataException("The upstream's JSON answer is not JSON.");
            }
            var client = exchange.Context.Response;
            client.StatusCode = (int)response.StatusCode;
            HeaderCopier.ToClient(response, client, keepContentLength: false);
            if (!tooLarge)
            {
                client.ContentLength = total;
                await client.Body.WriteAsync(buffer.AsMemory(0, total), exchange.Cancellation);
                return UsageReader.TryRead(buffer.AsSpan(0, total), out var counts, out _) ? counts : null;
            }
            client.ContentLength = declared;
            await client.Body.WriteAsync(buffer.AsMemory(0, total), exchange.Cancellation);
            await stream.CopyToAsync(client.Body, exchange.Cancellation);
            return null;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Whether <paramref name="json"/> is one whole JSON value (garbage or a cut body is not); allocation-free.</summary>
    internal static bool IsOneJsonValue(ReadOnlySpan<byte> json)
    {
        try
        {
            var reader = new Utf8JsonReader(json);
            if (!reader.Read())
            {
                return false;
            }
            reader.Skip();
            return !reader.Read(); // nothing but whitespace after the value
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
