using System.Buffers;
using System.Net.Http.Headers;
using KeyPool.Core.Outcomes;
using KeyPool.Errors;
using Yarp.ReverseProxy.Forwarder;

namespace KeyPool.Proxy;

/// <summary>
/// One attempt through YARP, as its <see cref="HttpTransformer"/>. Request: YARP's header copy (hop-by-hop
/// dropped), then <see cref="UpstreamHeaderPolicy"/>, the target from the validated path, the pool key and
/// a conversation id; the body is the already-read one <see cref="YarpForwarder"/> put in the client's request. Response: an error answer's message is read and nothing is
/// written (another key may answer); a success is relayed here, not by YARP's body copy, because KeyPool
/// reads usage from it, holds JSON back until it is whole and strips the usage chunk it asked for.
/// </summary>
internal sealed class YarpAttempt(ProxyExchange exchange, string baseUrl, string secret, TimeProvider time) : HttpTransformer
{
    private const string ConversationHeader = "x-grok-conv-id";

    public long Started { get; } = time.GetTimestamp();

    /// <summary>What the attempt gave, once the upstream answered; null when it never did.</summary>
    public ForwardResult? Result { get; private set; }

    public override async ValueTask TransformRequestAsync(HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix, CancellationToken cancellationToken)
    {
        await base.TransformRequestAsync(httpContext, proxyRequest, destinationPrefix, cancellationToken);
        var client = httpContext.Request;
        var connection = client.Headers.Connection;
        foreach (var (name, _) in client.Headers)
        {
            // Content headers went to YARP's content (whose length and type the forwarder set); the rest are removed here.
            if (!UpstreamHeaderPolicy.MayForward(name, connection) && proxyRequest.Headers.NonValidated.Contains(name))
            {
                proxyRequest.Headers.Remove(name);
            }
        }
        var path = client.Path.Value.AsSpan();
        var rest = path.StartsWith("/v1", StringComparison.Ordinal) ? path[3..] : path;
        proxyRequest.RequestUri = RequestUtilities.MakeDestinationAddress(baseUrl, new PathString(rest.ToString()), client.QueryString);
        proxyRequest.Headers.Authorization = new AuthenticationHeaderValue("Bearer", secret);
        if (exchange.UserId is { } userId && !proxyRequest.Headers.Contains(ConversationHeader))
        {
            // One stable id per user keeps their calls on the same upstream cache server.
            proxyRequest.Headers.TryAddWithoutValidation(ConversationHeader, ConversationId.For(userId));
        }
    }

    public override async ValueTask<bool> TransformResponseAsync(HttpContext httpContext, HttpResponseMessage? proxyResponse, CancellationToken cancellationToken)
    {
        if (proxyResponse is null)
        {
            return false; // no answer: YARP reports why
        }
        var firstByte = time.GetElapsedTime(Started);
        var limits = RateLimitHeaders.From(proxyResponse.Headers);
        var status = (int)proxyResponse.StatusCode;
        var facts = new UpstreamOutcome(OutcomeKind.Answered, status, null, limits.RemainingRequests, limits.RemainingTokens, limits.ResetAfter);
        if (status >= 400)
        {
            facts = facts with { ErrorMessage = await UpstreamForwarder.ReadErrorMessageAsync(proxyResponse, exchange.Cancellation) };
            Result = new ForwardResult(exchange.ClientLeft ? facts with { Kind = OutcomeKind.ClientLeft } : facts, null, firstByte, time.GetElapsedTime(Started));
            return false;
        }
        await base.TransformResponseAsync(httpContext, proxyResponse, cancellationToken); // YARP's header copy
        var (usage, failure) = await RelayAsync(httpContext.Response, proxyResponse);
        var outcome = failure is null
            ? facts with { Tokens = usage?.Total }
            : facts with { Kind = exchange.ClientLeft ? OutcomeKind.ClientLeft : OutcomeKind.BrokeMidway, ClientSawBytes = httpContext.Response.HasStarted, Tokens = usage?.Total };
        Result = new ForwardResult(outcome, usage, firstByte, time.GetElapsedTime(Started), failure);
        return false; // the body is relayed: YARP must not copy it
    }

    private async Task<(TokenCounts? Usage, string? Failure)> RelayAsync(HttpResponse client, HttpResponseMessage response)
    {
        var mediaType = response.Content.Headers.ContentType?.MediaType;
        var state = new SseRelay.State();
        try
        {
            await using var stream = await response.Content.ReadAsStreamAsync(exchange.Cancellation);
            if (string.Equals(mediaType, "text/event-stream", StringComparison.OrdinalIgnoreCase))
            {
                client.Headers.ContentLength = null; // a stripped chunk changes the length
                client.Headers["X-Accel-Buffering"] = "no"; // tell buffering intermediaries (nginx) to pass events on at once
                await SseRelay.RelayEventsAsync(stream, client.BodyWriter, exchange.StripUsageChunk, state, exchange.Cancellation);
                return (state.Usage, null);
            }
            if (string.Equals(mediaType, "application/json", StringComparison.OrdinalIgnoreCase))
            {
                return (await RelayJsonAsync(client, response, stream), null);
            }
            await stream.CopyToAsync(client.Body, exchange.Cancellation);
            return (null, null);
        }
        catch (Exception exception) when (exception is IOException or HttpRequestException or InvalidDataException or OperationCanceledException)
        {
            if (client.HasStarted && !exchange.ClientLeft && string.Equals(mediaType, "text/event-stream", StringComparison.OrdinalIgnoreCase))
            {
                // A stream that already reached the client can only end with an error event an SDK understands.
                client.BodyWriter.Write("data: "u8);
                client.BodyWriter.Write(OpenAiError.Serialize("The upstream stream failed before it completed.", OpenAiError.Upstream, "upstream_stream_failed"));
                client.BodyWriter.Write("\n\n"u8);
                await client.BodyWriter.FlushAsync(CancellationToken.None);
            }
            return (state.Usage, exception.GetType().Name);
        }
    }

    /// <summary>Reads the answer whole before its first byte goes out, so a body that fails half-way reaches nobody.</summary>
    private async Task<TokenCounts?> RelayJsonAsync(HttpResponse client, HttpResponseMessage response, Stream stream)
    {
        var expected = response.Content.Headers.ContentLength is { } length and > 0 and < int.MaxValue ? (int)length : 16 * 1024;
        var (buffer, total, _) = await PooledRead.ReadAsync(stream, expected, Array.MaxLength - 1, exchange.Cancellation);
        try
        {
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
