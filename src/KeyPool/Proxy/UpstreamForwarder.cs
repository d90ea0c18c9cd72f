using System.Buffers;
using KeyPool.Configuration;
using KeyPool.Core.Keys;
using KeyPool.Core.Outcomes;
using Microsoft.Extensions.Options;

namespace KeyPool.Proxy;

/// <summary>
/// Sends one attempt with one key and relays a successful answer to the client (JSON whole, streams
/// event by event), then reports what happened. It decides nothing about the key: error answers are
/// not written but returned as facts, so the caller can try another key or tell the client.
/// </summary>
internal sealed class UpstreamForwarder(UpstreamClient upstream, IOptions<UpstreamOptions> options, TimeProvider time)
{
    private readonly long _maxBufferedAnswer = options.Value.MaxBufferedAnswerBytes;

    private const int MaxErrorBody = 1024 * 1024;

    /// <summary>The deadline of a whole request, retries included.</summary>
    public TimeSpan Timeout => upstream.Timeout;

    public async Task<ForwardResult> ForwardAsync(ProxyExchange exchange, UpstreamKey key)
    {
        var started = time.GetTimestamp();
        using var request = UpstreamRequests.Build(exchange, upstream.BaseUrl, key.Secret);
        HttpResponseMessage response;
        try
        {
            response = await upstream.Invoker.SendAsync(request, exchange.Cancellation);
        }
        catch (Exception exception) when (exception is OperationCanceledException or HttpRequestException)
        {
            var kind = exchange.ClientLeft ? OutcomeKind.ClientLeft
                : exception is OperationCanceledException ? OutcomeKind.TimedOut
                : OutcomeKind.Unreachable;
            return new ForwardResult(new UpstreamOutcome(kind), null, null, time.GetElapsedTime(started), exception.Message);
        }
        using (response)
        {
            var firstByte = time.GetElapsedTime(started);
            var limits = RateLimitHeaders.From(response.Headers);
            var status = (int)response.StatusCode;
            var facts = new UpstreamOutcome(OutcomeKind.Answered, status, null, limits.RemainingRequests, limits.RemainingTokens, limits.ResetAfter);
            if (status >= 400)
            {
                facts = facts with { ErrorMessage = await ReadErrorMessageAsync(response, exchange.Cancellation) };
                return new ForwardResult(exchange.ClientLeft ? facts with { Kind = OutcomeKind.ClientLeft } : facts, null, firstByte, time.GetElapsedTime(started));
            }
            var relayed = await RelayAsync(exchange, response);
            // An answer the client cut before its usage: the upstream bills it all the same, so the reservation is charged.
            var usage = relayed.Usage ?? (exchange.ClientLeft ? new TokenCounts(0, exchange.Plan.Tokens, 0, 0, exchange.Plan.Tokens) : null);
            var outcome = relayed.Failure is null
                ? facts with { Tokens = usage?.Total }
                : facts with { Kind = exchange.ClientLeft ? OutcomeKind.ClientLeft : OutcomeKind.BrokeMidway, ClientSawBytes = exchange.Context.Response.HasStarted, Tokens = usage?.Total };
            return new ForwardResult(outcome, usage, firstByte, time.GetElapsedTime(started), relayed.Failure);
        }
    }

    private async Task<Relayed> RelayAsync(ProxyExchange exchange, HttpResponseMessage response)
    {
        var mediaType = response.Content.Headers.ContentType?.MediaType;
        try
        {
            if (string.Equals(mediaType, "text/event-stream", StringComparison.OrdinalIgnoreCase))
            {
                return await SseRelay.RelayAsync(exchange, response);
            }
            if (string.Equals(mediaType, "application/json", StringComparison.OrdinalIgnoreCase))
            {
                return new Relayed(await JsonRelay.RelayAsync(exchange, response, _maxBufferedAnswer), null);
            }
            var client = exchange.Context.Response;
            client.StatusCode = (int)response.StatusCode;
            HeaderCopier.ToClient(response, client, keepContentLength: true);
            await response.Content.CopyToAsync(client.Body, exchange.Cancellation);
            return new Relayed(null, null);
        }
        catch (Exception exception) when (exception is IOException or HttpRequestException or InvalidDataException or OperationCanceledException)
        {
            return new Relayed(null, exception.GetType().Name);
        }
    }

    private static async Task<string?> ReadErrorMessageAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        // Error bodies are small; a bounded read keeps a misbehaving upstream from holding memory.
        try
        {
            await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
            var (buffer, total, _) = await PooledRead.ReadAsync(stream, 8192, MaxErrorBody, cancellationToken);
            try
            {
                return UpstreamErrorBody.ReadMessage(buffer.AsSpan(0, Math.Min(total, MaxErrorBody)));
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
        catch (Exception exception) when (exception is IOException or HttpRequestException or OperationCanceledException)
        {
            return null; // the status alone still says what happened
        }
    }

    /// <summary>What relaying a success gave: the usage seen, and why it stopped early (null when it completed).</summary>
    internal readonly record struct Relayed(TokenCounts? Usage, string? Failure);
}
