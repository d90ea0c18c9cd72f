using System.Buffers;
using KeyPool.Configuration;
using KeyPool.Errors;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace KeyPool.Proxy;

/// <summary>
/// The read stage: the body, grown as bytes arrive and capped, then the few fields the gateway needs from it
/// (<see cref="ChatRequest"/>). The buffer stays with the exchange until <see cref="Release"/>.
/// </summary>
internal sealed class RequestBodies(IOptions<LimitsOptions> limits)
{
    private const int InitialBodyBuffer = 64 * 1024;

    private static readonly Refusal EmptyPost = Refusal.InvalidRequest(400, ChatRequest.InvalidJson, "The request body must be a JSON object.");
    private static readonly Refusal SlowBody = Refusal.InvalidRequest(408, "request_timeout", "The request body arrived too slowly (KeyPool:Limits:MinRequestBodyBytesPerSecond).");

    private readonly long _maxBody = limits.Value.MaxRequestBodyBytes;
    private readonly int _maxMessages = limits.Value.MaxMessages;
    private readonly Refusal _tooLarge = Refusal.InvalidRequest(
        413, "request_too_large", $"The request body is larger than the limit of {limits.Value.MaxRequestBodyBytes} bytes (KeyPool:Limits:MaxRequestBodyBytes).");

    public async ValueTask<Refusal?> ReadAsync(ProxyExchange exchange)
    {
        var context = exchange.Context;
        var request = context.Request;
        if (request.ContentLength > _maxBody)
        {
            return _tooLarge;
        }
        if (request.ContentLength != 0 && context.Features.Get<IHttpRequestBodyDetectionFeature>() is not { CanHaveBody: false })
        {
            try
            {
                // The buffer grows as bytes arrive: a declared length is a claim, not bytes, and slow senders must not hold memory they never send.
                var (buffer, total, tooLarge) = await PooledRead.ReadAsync(
                    request.Body, Math.Min(request.ContentLength ?? InitialBodyBuffer, InitialBodyBuffer), _maxBody, context.RequestAborted);
                exchange.RentedBody = buffer;
                if (tooLarge)
                {
                    return _tooLarge;
                }
                exchange.ClientBody = buffer.AsMemory(0, total);
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

    /// <summary>Returns the body's buffer; the body must not be used after.</summary>
    public static void Release(ProxyExchange exchange)
    {
        if (exchange.RentedBody is { Length: > 0 } buffer)
        {
            exchange.RentedBody = null;
            exchange.ClientBody = default;
            ArrayPool<byte>.Shared.Return(buffer);
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
