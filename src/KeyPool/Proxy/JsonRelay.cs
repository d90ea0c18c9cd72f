using System.Buffers;

namespace KeyPool.Proxy;

/// <summary>
/// Relays a JSON answer whole: it is read to the end before the first byte goes to the client, so a
/// body that fails half-way reaches nobody and another key may still answer. Usage is read from it.
/// </summary>
internal static class JsonRelay
{
    public static async Task<TokenCounts?> RelayAsync(ProxyExchange exchange, HttpResponseMessage response)
    {
        var expected = response.Content.Headers.ContentLength is { } length and > 0 and < int.MaxValue ? (int)length : 16 * 1024;
        await using var stream = await response.Content.ReadAsStreamAsync(exchange.Cancellation);
        var (buffer, total, _) = await PooledRead.ReadAsync(stream, expected, Array.MaxLength - 1, exchange.Cancellation);
        try
        {
            var client = exchange.Context.Response;
            client.StatusCode = (int)response.StatusCode;
            HeaderCopier.ToClient(response, client, keepContentLength: false);
            client.ContentLength = total;
            await client.Body.WriteAsync(buffer.AsMemory(0, total), exchange.Cancellation);
            return UsageReader.TryRead(buffer.AsSpan(0, total), out var counts, out _) ? counts : null;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
