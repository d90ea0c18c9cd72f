using System.Net;
using System.Runtime.InteropServices;
using KeyPool.Core.Keys;
using KeyPool.Core.Outcomes;
using Yarp.ReverseProxy.Forwarder;

namespace KeyPool.Proxy;

/// <summary>
/// The forwarder on YARP's <see cref="IHttpForwarder"/>: YARP builds and sends the request and classifies
/// failures before an answer (<see cref="ForwarderError"/>); <see cref="YarpAttempt"/>, its transformer,
/// sets KeyPool's target, body and headers, holds error answers back and relays successes itself (usage
/// read, the injected usage chunk stripped). Same contract as <see cref="UpstreamForwarder"/>.
/// </summary>
internal sealed class YarpForwarder(IHttpForwarder forwarder, UpstreamClient upstream, TimeProvider time) : IUpstreamForwarder
{
    // YARP's activity timeout (100 s by default, on the wall clock) must never cut in before KeyPool's own
    // deadline, which comes as the cancellation token: reasoning models can be silent for minutes.
    private readonly ForwarderRequestConfig _config = new()
    {
        ActivityTimeout = TimeSpan.FromMilliseconds(Math.Min(int.MaxValue, (upstream.Timeout + TimeSpan.FromSeconds(1)).TotalMilliseconds)),
        Version = HttpVersion.Version11, // as the hand-written forwarder, so the trial compares forwarders, not protocols
        VersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
    };

    public TimeSpan Timeout => upstream.Timeout;

    public async Task<ForwardResult> ForwardAsync(ProxyExchange exchange, UpstreamKey key)
    {
        var attempt = new YarpAttempt(exchange, upstream.BaseUrl, key.Secret, time);
        var context = exchange.Context;
        UseRewrittenBody(context.Request, exchange.Body);
        var error = await forwarder.SendAsync(context, upstream.BaseUrl, upstream.Invoker, _config, attempt, exchange.Cancellation);
        if (error == ForwarderError.None && attempt.Result is { } result)
        {
            if (!result.Outcome.IsErrorStatus && result.Detail is null)
            {
                return result;
            }
            ClearForRetry(context); // status and headers of an answer not relayed must not mix into the next attempt's
            return result;
        }
        // No answer: YARP set a 502/504 and an error feature for its own middleware; KeyPool writes its own error.
        var exception = context.Features.Get<IForwarderErrorFeature>()?.Exception;
        context.Features.Set<IForwarderErrorFeature>(null);
        ClearForRetry(context);
        var kind = exchange.ClientLeft ? OutcomeKind.ClientLeft
            : error is ForwarderError.RequestTimedOut or ForwarderError.RequestCanceled or ForwarderError.RequestBodyCanceled ? OutcomeKind.TimedOut
            : OutcomeKind.Unreachable;
        return new ForwardResult(new UpstreamOutcome(kind), null, null, time.GetElapsedTime(attempt.Started), exception?.Message ?? error.ToString());
    }

    /// <summary>
    /// YARP sends the client's request body and refuses a replaced <see cref="HttpContent"/>, so the body read
    /// (and maybe rewritten) by the handler becomes the request's body again, from its start on every attempt.
    /// </summary>
    private static void UseRewrittenBody(HttpRequest request, ReadOnlyMemory<byte> body)
    {
        if (body.IsEmpty)
        {
            if (request.Headers.ContentLength is > 0 || request.Headers.ContainsKey("Transfer-Encoding"))
            {
                request.Headers.Remove("Transfer-Encoding");
                request.Headers.ContentLength = 0;
            }
            request.Body = Stream.Null;
            return;
        }
        var segment = MemoryMarshal.TryGetArray(body, out var array) ? array : new ArraySegment<byte>(body.ToArray());
        request.Body = new MemoryStream(segment.Array!, segment.Offset, segment.Count, writable: false);
        request.Headers.Remove("Transfer-Encoding");
        request.Headers.ContentLength = body.Length;
        if (string.IsNullOrEmpty(request.ContentType))
        {
            request.ContentType = "application/json";
        }
    }

    private static void ClearForRetry(HttpContext context)
    {
        if (!context.Response.HasStarted)
        {
            context.Response.Clear();
        }
    }
}
