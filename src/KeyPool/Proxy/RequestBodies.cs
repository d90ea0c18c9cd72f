using KeyPool.Configuration;
using KeyPool.Errors;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace KeyPool.Proxy;

/// <summary>
/// The read stage: the body, grown as bytes arrive and capped, then the few fields the gateway needs from it
/// (<see cref="ChatRequest"/>). A body is refused before it is buffered when its declared length is over the cap, and
/// while it is read when its bytes are or the gateway's body memory (<see cref="BodyMemory"/>) is spent. The buffer stays
/// with the exchange until <see cref="Release"/>.
/// </summary>
internal sealed class RequestBodies(IOptions<LimitsOptions> limits, BodyMemory memory)
{
    private const int InitialBodyBuffer = 64 * 1024;

    private static readonly Refusal EmptyPost = Refusal.InvalidRequest(400, ChatRequest.InvalidJson, "The request body must be a JSON object.");
    private static readonly Refusal SlowBody = Refusal.InvalidRequest(408, "request_timeout", "The request body arrived too slowly (KeyPool:Limits:MinRequestBodyBytesPerSecond).");

    private readonly long _maxBody = limits.Value.MaxRequestBodyBytes;
    private readonly int _maxMessages = limits.Value.MaxMessages;
    // Connection: close: the client is not read on, so it must not keep sending on this connection.
    private readonly Refusal _tooLarge = Refusal.InvalidRequest(
        413, "request_too_large", $"The request body is larger than the limit of {limits.Value.MaxRequestBodyBytes} bytes (KeyPool:Limits:MaxRequestBodyBytes).") with { CloseConnection = true };
    private readonly Refusal _memoryFull = Refusal.Unavailable(
        "gateway_overloaded", $"The gateway holds its limit of {limits.Value.MaxBufferedBodyBytes} bytes of request bodies (KeyPool:Limits:MaxBufferedBodyBytes): retry shortly.", 1) with { CloseConnection = true };

    public async ValueTask<Refusal?> ReadAsync(ProxyExchange exchange)
    {
        var context = exchange.Context;
        var request = context.Request;
        var declared = request.ContentLength;
        if (declared > _maxBody)
        {
            return _tooLarge; // refused before a byte is buffered
        }
        if (declared != 0 && context.Features.Get<IHttpRequestBodyDetectionFeature>() is not { CanHaveBody: false })
        {
            try
            {
                if (await BufferAsync(exchange, request.Body, declared, context.RequestAborted) is { } refusal)
                {
                    return refusal;
                }
            }
            catch (BadHttpRequestException exception)
            {
                // Kestrel's verdict on the body (too slow: below KeyPool:Limits:MinRequestBodyBytesPerSecond; malformed chunking).
                return exception.StatusCode == StatusCodes.Status408RequestTimeout
                    ? SlowBody
                    : Refusal.InvalidRequest(exception.StatusCode, "invalid_request_body", "The request body could not be read: " + exception.Message);
            }
        }
        return Parse(exchange);
    }

    /// <summary>Returns the body's buffer to the budget; the body must not be used after.</summary>
    public void Release(ProxyExchange exchange)
    {
        if (exchange.RentedBody is { } buffer)
        {
            exchange.RentedBody = null;
            exchange.ClientBody = default;
            memory.Return(buffer);
        }
    }

    // The buffer grows as bytes arrive, never past the declared length: a declared length is a claim, not bytes, and slow
    // senders must not hold memory they never send. Every buffer is charged to the budget before it is taken.
    private async ValueTask<Refusal?> BufferAsync(ProxyExchange exchange, Stream body, long? declared, CancellationToken cancellationToken)
    {
        var cap = (declared ?? _maxBody) + 1; // one byte past the end tells a body longer than its cap
        if (memory.TryRent((int)Math.Min(cap, InitialBodyBuffer)) is not { } buffer)
        {
            return _memoryFull;
        }
        exchange.RentedBody = buffer;
        var total = 0;
        while (true)
        {
            if (total == buffer.Length)
            {
                // Doubling while the buffer is pooled; past that straight to the declared length (no large garbage on the way).
                var grown = buffer.Length < BodyMemory.MaxPooled || declared is null ? (long)buffer.Length * 2 : cap;
                if (memory.TryRent((int)Math.Min(grown, cap)) is not { } bigger)
                {
                    return _memoryFull;
                }
                buffer.AsSpan(0, total).CopyTo(bigger);
                exchange.RentedBody = bigger;
                memory.Return(buffer);
                buffer = bigger;
            }
            var read = await body.ReadAsync(buffer.AsMemory(total), cancellationToken);
            if (read == 0)
            {
                exchange.ClientBody = buffer.AsMemory(0, total);
                return null;
            }
            total += read;
            if (total > _maxBody)
            {
                return _tooLarge;
            }
        }
    }

    private Refusal? Parse(ProxyExchange exchange)
    {
        var request = exchange.Context.Request;
        var body = exchange.ClientBody;
        if (body.IsEmpty)
        {
            // Every POST endpoint behind the gateway takes a JSON object; an empty one would only cost an upstream call.
            return HttpMethods.IsPost(request.Method) ? EmptyPost : null;
        }
        if (!IsJson(request.ContentType))
        {
            return Refusal.InvalidRequest(415, "unsupported_media_type", $"The request body must be JSON (Content-Type: application/json), not '{request.ContentType}'.");
        }
        if (ChatRequest.Read(body.Span, _maxMessages, out var error, out var code) is not { } parsed)
        {
            return Refusal.InvalidRequest(400, code!, error!);
        }
        exchange.Chat = parsed;
        return null;
    }

    // Every endpoint behind the gateway takes JSON; a missing type is taken as JSON (curl without -H).
    private static bool IsJson(string? contentType)
    {
        if (string.IsNullOrEmpty(contentType))
        {
            return true;
        }
        var mediaType = contentType.AsSpan();
        var semicolon = mediaType.IndexOf(';');
        if (semicolon >= 0)
        {
            mediaType = mediaType[..semicolon];
        }
        mediaType = mediaType.Trim();
        return mediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || (mediaType.StartsWith("application/", StringComparison.OrdinalIgnoreCase) && mediaType.EndsWith("+json", StringComparison.OrdinalIgnoreCase));
    }
}
