namespace KeyPool.Emulator.RateLimits;

/// <summary>
/// One (team, model) budget over the last 60 s: a queue of admitted (timestamp, tokens), pruned
/// from the front, so each request costs O(1) amortised. Timestamps come from the TimeProvider.
/// </summary>
internal sealed class SlidingWindow(TimeProvider timeProvider)
{
    public static readonly TimeSpan Length = TimeSpan.FromSeconds(60);

    private readonly Lock _gate = new();
    private readonly Queue<(long Timestamp, long Tokens)> _admitted = new();
    private readonly long _lengthInTicks = (long)(Length.TotalSeconds * timeProvider.TimestampFrequency);
    private long _tokens;

    /// <summary>Admits the request when fewer than <paramref name="requestLimit"/> requests and fewer than <paramref name="tokenLimit"/> tokens were admitted in the window.</summary>
    public RateDecision TryAdmit(long tokens, int requestLimit, long tokenLimit) => Decide(tokens, requestLimit, tokenLimit, charge: true);

    /// <summary>The window's state for headers, without charging it.</summary>
    public RateDecision Peek(int requestLimit, long tokenLimit) => Decide(0, requestLimit, tokenLimit, charge: false);

    private RateDecision Decide(long tokens, int requestLimit, long tokenLimit, bool charge)
    {
        var now = timeProvider.GetTimestamp();
        lock (_gate)
        {
            while (_admitted.TryPeek(out var oldest) && now - oldest.Timestamp >= _lengthInTicks)
            {
                _admitted.Dequeue();
                _tokens -= oldest.Tokens;
            }
            RateLimitKind? exceeded = _admitted.Count >= requestLimit ? RateLimitKind.Requests
                : _tokens >= tokenLimit ? RateLimitKind.Tokens
                : null;
            if (exceeded is null && charge)
            {
                _admitted.Enqueue((now, tokens));
                _tokens += tokens;
            }
            var reset = _admitted.TryPeek(out var first)
                ? timeProvider.GetElapsedTime(now, first.Timestamp + _lengthInTicks)
                : TimeSpan.Zero;
            return new RateDecision(
                exceeded,
                requestLimit,
                Math.Max(0, requestLimit - _admitted.Count),
                tokenLimit,
                Math.Max(0, tokenLimit - _tokens),
                reset,
                reset);
        }
    }
}
