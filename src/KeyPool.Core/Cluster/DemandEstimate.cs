namespace KeyPool.Core.Cluster;

/// <summary>
/// How much one shared budget is asked for here (requests and tokens, granted or not) this second and the one
/// before, and what the leases should be sized to from that. Not thread-safe: <see cref="SharedBudget"/> guards it.
/// </summary>
internal sealed class DemandEstimate
{
    // A budget used within the last minute keeps a lease of at least one request a second, so a quiet key
    // does not make its next request wait for a lease.
    private const int IdleSeconds = 60;

    private long _second = long.MinValue;
    private long _requests;
    private long _tokens;
    private long _previousRequests;
    private long _previousTokens;
    private long _largestWaiting;
    private bool _missed;

    /// <summary>A request asked for <paramref name="tokens"/> at <paramref name="second"/>.</summary>
    public void Note(long second, long tokens)
    {
        if (second != _second)
        {
            (_previousRequests, _previousTokens) = second == _second + 1 ? (_requests, _tokens) : (0, 0);
            _second = second;
            _requests = 0;
            _tokens = 0;
            _largestWaiting = 0;
        }
        _requests++;
        _tokens += tokens;
    }

    /// <summary>That request found the lease empty (demand is ramping up).</summary>
    public void Missed(long tokens)
    {
        _missed = true;
        _largestWaiting = Math.Max(_largestWaiting, tokens);
    }

    /// <summary>Whether nothing was asked for within the last minute: leases lapse and are given back.</summary>
    public bool IsIdle(long second) => _second < second - IdleSeconds;

    /// <summary>
    /// The leases to ask for at <paramref name="second"/> given <paramref name="lease"/>: a top-up of the current
    /// second when it runs low (or a request found it empty) and the next second ahead; each null when not needed.
    /// </summary>
    public (LeaseRequest? TopUp, LeaseRequest? Ahead) Plan(long second, LeaseAccount lease, int cap, int instances)
    {
        var rate = Math.Max(_previousRequests, _second == second ? _requests : 0);
        var tokensPerRequest = Math.Max(1, _requests > 0 ? _tokens / _requests : _previousRequests > 0 ? _previousTokens / _previousRequests : 1);
        var minTokens = Math.Max(1, _largestWaiting);
        LeaseRequest? topUp = null, ahead = null;
        var runningLow = lease.Second == second && lease.RequestsLeft * 2 < lease.RequestsGranted && _second == second && _requests > lease.RequestsGranted / 2;
        if ((_missed || runningLow || lease.Second != second || lease.RequestsGranted == 0) && !lease.IsExhausted(second))
        {
            // A request found the lease empty: ask for a fair share of the second at once, not just the shortfall,
            // so only the first requests of a ramp miss.
            var wanted = _missed
                ? Math.Clamp(Math.Max(2 * rate - lease.RequestsGranted, (cap + instances - 1) / instances), 1, cap)
                : Math.Clamp(rate - lease.RequestsGranted + 1, 1, cap);
            topUp = new LeaseRequest(second, wanted, Math.Max(wanted * tokensPerRequest, _largestWaiting), minTokens,
                _missed || lease.RequestsGranted == 0 ? instances : 1);
        }
        if (lease.NextSecond != second + 1)
        {
            var wanted = Math.Clamp(rate + (rate / 4) + 1, 1, cap);
            ahead = new LeaseRequest(second + 1, wanted, Math.Max(wanted * tokensPerRequest, _largestWaiting), minTokens, instances);
        }
        _missed = false;
        return (topUp, ahead);
    }
}
