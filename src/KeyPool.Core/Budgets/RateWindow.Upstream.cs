namespace KeyPool.Core.Budgets;

/// <summary>What the upstream's answers say about the window: its remaining counts and its refusals with room left.</summary>
public sealed partial class RateWindow
{
    /// <summary>
    /// Corrects the local view with the upstream's: when it has less left than is counted here (something else uses the
    /// key, or its limit is lower), the difference is charged, so the key is not overrun. The upstream counted at
    /// <paramref name="countedAt"/> (the attempt's second; default now): compared with what this window held then and
    /// charged to that second, as what left here while a slow answer was written is no one's (charged again, for a minute).
    /// </summary>
    public void Observe(long second, long? remainingRequests, long? remainingTokens, long? countedAt = null)
    {
        lock (_lock)
        {
            Advance(second);
            var (at, requestsThen, tokensThen) = (second, _buckets.Requests, _buckets.Tokens);
            if (countedAt is { } then && then < second && _buckets.SumsAt(then) is { } past)
            {
                (at, requestsThen, tokensThen) = (then, past.Requests, past.Tokens);
            }
            if (remainingRequests is { } requests && Limits.RequestsPerMinute - requestsThen - requests is var extraRequests && extraRequests > 0)
            {
                _buckets.Add(at, extraRequests, 0);
            }
            if (remainingTokens is { } tokens && Limits.TokensPerMinute - tokensThen - tokens is var extraTokens && extraTokens > 0)
            {
                _buckets.Add(at, 0, extraTokens);
            }
        }
    }

    /// <summary>
    /// Called when the upstream answered 429. When its <c>remaining</c> figures still showed room, it enforces a window
    /// finer than the minute: the burst allowance is halved (down to one request) and true is returned, so the caller can
    /// say so. A 429 with nothing left, or without figures, changes nothing.
    /// </summary>
    public bool TightenBurst(long second, long? remainingRequests, long? remainingTokens)
    {
        if (remainingRequests is not > 0 || remainingTokens is <= 0)
        {
            return false; // the minute itself is spent (or the upstream did not say): not a finer window
        }
        lock (_lock)
        {
            Advance(second);
            if (_burstRequests <= 1)
            {
                return false;
            }
            _burstRequests = Math.Max(1, _burstRequests / 2);
            _burstTokens = Math.Max(1, _burstTokens / 2);
            _requestCredit = Math.Min(_requestCredit, _burstRequests * Unit);
            _tokenCredit = Math.Min(_tokenCredit, _burstTokens * Unit);
            _tightenings++;
            return true;
        }
    }
}
