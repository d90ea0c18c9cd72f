namespace KeyPool.Core.Budgets;

/// <summary>
/// One sliding-minute budget of requests and tokens, in one-second buckets. A bucket leaves the
/// window 61 s after its second began, so the window always covers at least the last full 60 s:
/// the upstream, which counts exactly 60 s, never sees more than the limit.
/// </summary>
public sealed class RateWindow
{
    private const int Buckets = 61;

    private readonly Lock _lock = new();
    private readonly long[] _requests = new long[Buckets];
    private readonly long[] _tokens = new long[Buckets];
    private long _second = long.MinValue; // the second of the newest bucket
    private long _requestSum;
    private long _tokenSum;

    /// <summary>Creates a window with <paramref name="limits"/>.</summary>
    public RateWindow(BudgetLimits limits) => Limits = limits;

    /// <summary>The limits enforced.</summary>
    public BudgetLimits Limits { get; }

    /// <summary>Reserves one request and <paramref name="tokens"/> tokens at <paramref name="second"/> if both fit.</summary>
    public bool TryAcquire(long second, long tokens)
    {
        lock (_lock)
        {
            Advance(second);
            var slot = Slot(second);
            if (_requestSum + 1 > Limits.RequestsPerMinute || _requests[slot] + 1 > Limits.RequestsPerSecond)
            {
                return false;
            }
            // A request bigger than a whole second's (or minute's) share passes only into an empty bucket (window),
            // otherwise it could never pass at all.
            if ((_tokenSum > 0 && _tokenSum + tokens > Limits.TokensPerMinute) || (_tokens[slot] > 0 && _tokens[slot] + tokens > Limits.TokensPerSecond))
            {
                return false;
            }
            _requests[slot]++;
            _tokens[slot] += tokens;
            _requestSum++;
            _tokenSum += tokens;
            return true;
        }
    }

    /// <summary>Replaces a reservation made at <paramref name="second"/> with what the request really cost.</summary>
    public void Settle(long second, long reserved, long actual)
    {
        lock (_lock)
        {
            Advance(second);
            if (second <= _second - Buckets)
            {
                return; // already out of the window
            }
            var slot = Slot(second);
            var delta = Math.Max(-_tokens[slot], actual - reserved);
            _tokens[slot] += delta;
            _tokenSum += delta;
        }
    }

    /// <summary>
    /// Corrects the local view with the upstream's: when it has less left than is counted here
    /// (something else uses the key, or its limit is lower), the difference is charged to the current
    /// second, so the key is not overrun.
    /// </summary>
    public void Observe(long second, long? remainingRequests, long? remainingTokens)
    {
        lock (_lock)
        {
            Advance(second);
            var slot = Slot(second);
            if (remainingRequests is { } requests && Limits.RequestsPerMinute - _requestSum - requests is var extraRequests && extraRequests > 0)
            {
                _requests[slot] += extraRequests;
                _requestSum += extraRequests;
            }
            if (remainingTokens is { } tokens && Limits.TokensPerMinute - _tokenSum - tokens is var extraTokens && extraTokens > 0)
            {
                _tokens[slot] += extraTokens;
                _tokenSum += extraTokens;
            }
        }
    }

    /// <summary>Requests and tokens counted in the window at <paramref name="second"/>.</summary>
    public (long Requests, long Tokens) Used(long second)
    {
        lock (_lock)
        {
            Advance(second);
            return (_requestSum, _tokenSum);
        }
    }

    /// <summary>The fraction of the tighter budget still free: 1 idle, 0 full (per second or per minute).</summary>
    public double Headroom(long second)
    {
        lock (_lock)
        {
            Advance(second);
            var slot = Slot(second);
            var requests = Math.Min(
                1.0 - (double)_requestSum / Limits.RequestsPerMinute,
                1.0 - (double)_requests[slot] / Limits.RequestsPerSecond);
            var tokens = 1.0 - (double)_tokenSum / Limits.TokensPerMinute;
            return Math.Max(0, Math.Min(requests, tokens));
        }
    }

    /// <summary>Seconds from <paramref name="second"/> until a request could fit again (at least 1).</summary>
    public int SecondsUntilFree(long second)
    {
        lock (_lock)
        {
            Advance(second);
            if (_requestSum < Limits.RequestsPerMinute && _tokenSum < Limits.TokensPerMinute)
            {
                return 1; // only the per-second cap is in the way
            }
            // The minute is full: wait for the oldest non-empty bucket to leave.
            for (var age = Buckets - 1; age >= 0; age--)
            {
                var bucketSecond = second - age;
                var slot = Slot(bucketSecond);
                if (_requests[slot] > 0 || _tokens[slot] > 0)
                {
                    return (int)Math.Max(1, bucketSecond + Buckets - second);
                }
            }
            return 1;
        }
    }

    private static int Slot(long second) => (int)(((second % Buckets) + Buckets) % Buckets);

    private void Advance(long second)
    {
        if (second <= _second)
        {
            return;
        }
        if (_second == long.MinValue || second - _second >= Buckets)
        {
            Array.Clear(_requests);
            Array.Clear(_tokens);
            _requestSum = 0;
            _tokenSum = 0;
        }
        else
        {
            for (var s = _second + 1; s <= second; s++)
            {
                var slot = Slot(s);
                _requestSum -= _requests[slot];
                _tokenSum -= _tokens[slot];
                _requests[slot] = 0;
                _tokens[slot] = 0;
            }
        }
        _second = second;
    }
}
