using KeyPool.Core.Budgets;

namespace KeyPool.Core.Cluster;

/// <summary>
/// One instance's slice of a budget shared by several instances (lease-based global rate limiting, as in
/// Doorman or Envoy's global rate limit service). The request path spends a lease held in memory and never
/// waits on the ledger; <see cref="SharedBudgets"/> leases the next second ahead, tops the current one up
/// when it runs low and gives back what was not spent. While the ledger is unreachable the budget falls
/// back to 1/N of the limits, charged with the last known use, and what it spends then is written to the
/// ledger when it is back, so the sum over all instances never passes the limits.
/// </summary>
public sealed class SharedBudget
{
    // A budget used within the last minute keeps a lease of at least one request a second, so a quiet key
    // does not make its next request wait for a lease.
    private const int IdleSeconds = 60;
    private const int SpentHistory = 62;

    private readonly Lock _lock = new();
    private readonly List<(long Second, long Requests, long Tokens)> _owed = []; // adjustments not yet written to the ledger
    private BudgetLimits _limits;

    // The lease of the current second and the one leased ahead for the next.
    private long _second = long.MinValue;
    private long _requestsLeft;
    private long _tokensLeft;
    private long _requestsGranted;
    private long _nextSecond = long.MinValue;
    private long _nextRequests;
    private long _nextTokens;
    private long _exhaustedSecond = long.MinValue; // the ledger had nothing more for this second

    // Demand (requests asked for, granted or not), for sizing leases.
    private long _demandSecond = long.MinValue;
    private long _demandRequests;
    private long _demandTokens;
    private long _previousDemandRequests;
    private long _previousDemandTokens;
    private long _largestWaiting;
    private bool _wanted;

    // The fallback while the ledger is unreachable, what it spent, and what this instance spent in all (granted
    // minus given back), by second: written to the ledger when it is back (all of it when it lost its data).
    private RateWindow? _fallback;
    private readonly Dictionary<long, (long Requests, long Tokens)> _fallbackSpent = [];
    private readonly Dictionary<long, (long Requests, long Tokens)> _spent = [];

    internal SharedBudget(BudgetKey key, BudgetLimits limits)
    {
        Key = key;
        _limits = limits;
    }

    /// <summary>The budget's name in the ledger.</summary>
    public BudgetKey Key { get; }

    /// <summary>The limits of the whole budget (all instances together).</summary>
    public BudgetLimits Limits
    {
        get => _limits;
        internal set => _limits = value;
    }

    /// <summary>Whether this budget is on its 1/N fallback now.</summary>
    public bool OnFallback => Volatile.Read(ref _fallback) is not null;

    /// <summary>The busiest window's use the ledger reported last (all instances).</summary>
    public (long Requests, long Tokens) LastWindowUse { get; private set; }

    /// <summary>
    /// Takes one request and <paramref name="tokens"/> from this instance's lease for <paramref name="second"/>.
    /// False when the lease has no room: the caller treats the key as out of budget, and the lease is topped up
    /// in the background.
    /// </summary>
    public bool TryTake(long second, long tokens)
    {
        lock (_lock)
        {
            NoteDemand(second, tokens);
            if (_fallback is { } fallback)
            {
                if (!fallback.TryAcquire(second, tokens))
                {
                    return false;
                }
                NoteFallbackSpend(second, 1, tokens);
                return true;
            }
            Roll(second);
            if (_second == second && _requestsLeft >= 1 && _tokensLeft >= tokens)
            {
                _requestsLeft--;
                _tokensLeft -= tokens;
                return true;
            }
            _wanted = true;
            _largestWaiting = Math.Max(_largestWaiting, tokens);
            return false;
        }
    }

    /// <summary>Gives back a take the caller could not use (the local window refused the request).</summary>
    public void Untake(long second, long tokens)
    {
        lock (_lock)
        {
            if (_fallback is { } fallback)
            {
                // The fallback window cannot give back a request, only its tokens: conservative.
                fallback.Settle(second, tokens, 0);
                NoteFallbackSpend(second, 0, -tokens);
            }
            else if (second == _second)
            {
                _requestsLeft++;
                _tokensLeft += tokens;
            }
            else
            {
                _owed.Add((second, -1, -tokens));
                Record(_spent, second, -1, -tokens);
            }
        }
    }

    /// <summary>Replaces a reservation taken at <paramref name="second"/> with what the request really cost.</summary>
    public void Settle(long second, long reserved, long actual)
    {
        var delta = actual - reserved;
        if (delta == 0)
        {
            return;
        }
        lock (_lock)
        {
            if (_fallback is { } fallback)
            {
                fallback.Settle(second, reserved, actual);
                NoteFallbackSpend(second, 0, delta);
            }
            else if (second == _second)
            {
                _tokensLeft -= delta; // may go below zero: the rest is charged when the lease is returned
            }
            else
            {
                _owed.Add((second, 0, delta));
                Record(_spent, second, 0, delta);
            }
        }
    }

    /// <summary>Whether the budget was used recently enough to keep leasing for it.</summary>
    internal bool IsActive(long second)
    {
        lock (_lock)
        {
            return _demandSecond >= second - IdleSeconds || _owed.Count > 0 || _second >= second - 1 || _nextSecond >= second;
        }
    }

    /// <summary>
    /// One round with the ledger: writes what is owed, tops up the current second when it runs low and leases
    /// the next second ahead. Throws <see cref="ClusterUnavailableException"/> (or what the ledger threw) when
    /// the ledger is unreachable; nothing owed is lost then.
    /// </summary>
    internal async Task RefreshAsync(IBudgetLedger ledger, long second, int instances, CancellationToken cancellationToken)
    {
        List<(long Second, long Requests, long Tokens)> owed;
        lock (_lock)
        {
            Roll(second);
            owed = [.. _owed];
            _owed.Clear();
        }
        for (var i = 0; i < owed.Count; i++)
        {
            var (s, requests, tokens) = owed[i];
            if (s < second - 2 * SpentHistory || (requests == 0 && tokens == 0))
            {
                continue; // long out of every window
            }
            try
            {
                await ledger.AdjustAsync(Key, s, requests, tokens, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                lock (_lock)
                {
                    _owed.InsertRange(0, owed.Skip(i));
                }
                throw;
            }
        }

        LeaseRequest? topUp = null, ahead = null;
        lock (_lock)
        {
            if (_demandSecond < second - IdleSeconds)
            {
                return; // idle: leases lapse and are given back
            }
            var rate = Math.Max(_previousDemandRequests, _demandSecond == second ? _demandRequests : 0);
            var tokensPerRequest = Math.Max(1, _demandRequests > 0 ? _demandTokens / _demandRequests : _previousDemandRequests > 0 ? _previousDemandTokens / _previousDemandRequests : 1);
            var cap = Limits.RequestsPerSecond;
            var runningLow = _second == second && _requestsLeft * 2 < _requestsGranted && _demandSecond == second && _demandRequests > _requestsGranted / 2;
            if ((_wanted || runningLow || _second != second || _requestsGranted == 0) && _exhaustedSecond != second)
            {
                // A request found the lease empty (demand is ramping up): ask for a fair share of the second at once,
                // not just the shortfall, so only the first requests of a ramp miss.
                var wanted = _wanted
                    ? Math.Clamp(Math.Max(2 * rate - _requestsGranted, (cap + instances - 1) / instances), 1, cap)
                    : Math.Clamp(rate - _requestsGranted + 1, 1, cap);
                topUp = new LeaseRequest(second, wanted, Math.Max(wanted * tokensPerRequest, _largestWaiting), Math.Max(1, _largestWaiting),
                    _wanted || _requestsGranted == 0 ? instances : 1);
            }
            if (_nextSecond != second + 1)
            {
                var wanted = Math.Clamp(rate + rate / 4 + 1, 1, cap);
                ahead = new LeaseRequest(second + 1, wanted, Math.Max(wanted * tokensPerRequest, _largestWaiting), Math.Max(1, _largestWaiting), instances);
            }
            _wanted = false;
        }
        var limits = Limits;
        if (topUp is { } current)
        {
            var grant = await ledger.LeaseAsync(Key, limits, current, cancellationToken).ConfigureAwait(false);
            Accept(current.Second, grant);
        }
        if (ahead is { } next)
        {
            var grant = await ledger.LeaseAsync(Key, limits, next, cancellationToken).ConfigureAwait(false);
            Accept(next.Second, grant);
        }
    }

    /// <summary>
    /// The ledger is unreachable: from now on spend at most 1/<paramref name="instances"/> of the limits, charged
    /// with 1/<paramref name="instances"/> of the last known use of all instances (their leases are still in that
    /// window). The leases held are dropped: their grants are part of that use.
    /// </summary>
    internal void EnterFallback(long second, int instances)
    {
        lock (_lock)
        {
            if (_fallback is not null)
            {
                return;
            }
            var n = Math.Max(1, instances);
            // No burst while the instances cannot coordinate: each spends its share evenly, a second's worth at a time.
            var limits = new BudgetLimits(Math.Max(1, Limits.RequestsPerMinute / n), Math.Max(1, Limits.TokensPerMinute / n), BurstSeconds: 1);
            var fallback = new RateWindow(limits);
            var (usedRequests, usedTokens) = LastWindowUse;
            // Rounded up: shares rounded down would together charge less than was used (59 used, two instances: 29 + 29).
            fallback.Observe(second, limits.RequestsPerMinute - ((usedRequests + n - 1) / n), limits.TokensPerMinute - ((usedTokens + n - 1) / n));
            // Spends owed to the ledger are real: keep them for the resynchronisation; give-backs are simply forgotten.
            foreach (var (s, requests, tokens) in _owed)
            {
                if (requests > 0 || tokens > 0)
                {
                    NoteFallbackSpend(s, Math.Max(0, requests), Math.Max(0, tokens));
                }
            }
            _owed.Clear();
            if (_second != long.MinValue)
            {
                Record(_spent, _second, -_requestsLeft, -_tokensLeft);
            }
            if (_nextSecond != long.MinValue)
            {
                Record(_spent, _nextSecond, -_nextRequests, -_nextTokens);
            }
            _second = long.MinValue;
            _requestsLeft = _tokensLeft = _requestsGranted = 0;
            _nextSecond = long.MinValue;
            _nextRequests = _nextTokens = 0;
            Volatile.Write(ref _fallback, fallback);
        }
    }

    /// <summary>
    /// The ledger is back: what was spent on the fallback within the last minute (everything this instance spent
    /// in it, when the ledger lost its data) is written to it first, so leases granted from now on count it, then
    /// leasing resumes.
    /// </summary>
    internal async Task ResynchroniseAsync(IBudgetLedger ledger, long second, bool ledgerLost, CancellationToken cancellationToken)
    {
        KeyValuePair<long, (long Requests, long Tokens)>[] replay;
        lock (_lock)
        {
            if (_fallback is null && !ledgerLost)
            {
                return;
            }
            replay = [.. ledgerLost ? _spent : _fallbackSpent];
        }
        foreach (var (s, (requests, tokens)) in replay)
        {
            if (s >= second - SpentHistory && (requests > 0 || tokens > 0))
            {
                await ledger.AdjustAsync(Key, s, Math.Max(0, requests), Math.Max(0, tokens), cancellationToken).ConfigureAwait(false);
            }
        }
        lock (_lock)
        {
            if (ledgerLost && _fallback is null)
            {
                // Leases held now were granted by the lost ledger and are part of what was just written.
                return;
            }
            // Spends made while the replay ran are owed like settlements.
            foreach (var (s, now) in ledgerLost ? _spent : _fallbackSpent)
            {
                var written = replay.FirstOrDefault(e => e.Key == s).Value;
                if (now.Requests != written.Requests || now.Tokens != written.Tokens)
                {
                    _owed.Add((s, now.Requests - written.Requests, now.Tokens - written.Tokens));
                }
            }
            _fallbackSpent.Clear();
            Volatile.Write(ref _fallback, null);
        }
    }

    private void Accept(long second, LeaseGrant grant)
    {
        lock (_lock)
        {
            LastWindowUse = (grant.WindowRequests, grant.WindowTokens);
            if (grant.Requests == 0 && grant.Tokens == 0)
            {
                _exhaustedSecond = Math.Max(_exhaustedSecond, second);
                return;
            }
            if (_fallback is null && second >= _second && (second == _second || _nextSecond == long.MinValue || _nextSecond == second))
            {
                Record(_spent, second, grant.Requests, grant.Tokens);
            }
            if (_fallback is null && second == _second)
            {
                _requestsLeft += grant.Requests;
                _tokensLeft += grant.Tokens;
                _requestsGranted += grant.Requests;
            }
            else if (_fallback is null && second > _second && (_nextSecond == long.MinValue || _nextSecond == second))
            {
                _nextSecond = second;
                _nextRequests += grant.Requests;
                _nextTokens += grant.Tokens;
            }
            else
            {
                _owed.Add((second, -grant.Requests, -grant.Tokens)); // arrived too late to use: give it back
            }
        }
    }

    // Moves the lease on to `second`: what the old one did not spend is owed back to the ledger.
    private void Roll(long second)
    {
        if (second <= _second)
        {
            return;
        }
        if (_second != long.MinValue && (_requestsLeft != 0 || _tokensLeft != 0))
        {
            _owed.Add((_second, -_requestsLeft, -_tokensLeft));
            Record(_spent, _second, -_requestsLeft, -_tokensLeft);
        }
        if (_nextSecond != long.MinValue && _nextSecond < second && (_nextRequests != 0 || _nextTokens != 0))
        {
            _owed.Add((_nextSecond, -_nextRequests, -_nextTokens));
            Record(_spent, _nextSecond, -_nextRequests, -_nextTokens);
            _nextSecond = long.MinValue;
        }
        _second = second;
        if (_nextSecond == second)
        {
            _requestsLeft = _requestsGranted = _nextRequests;
            _tokensLeft = _nextTokens;
            _nextSecond = long.MinValue;
            _nextRequests = _nextTokens = 0;
        }
        else
        {
            _requestsLeft = _tokensLeft = _requestsGranted = 0;
        }
    }

    private void NoteDemand(long second, long tokens)
    {
        if (second != _demandSecond)
        {
            (_previousDemandRequests, _previousDemandTokens) = second == _demandSecond + 1 ? (_demandRequests, _demandTokens) : (0, 0);
            _demandSecond = second;
            _demandRequests = 0;
            _demandTokens = 0;
            _largestWaiting = 0;
        }
        _demandRequests++;
        _demandTokens += tokens;
    }

    private void NoteFallbackSpend(long second, long requests, long tokens)
    {
        Record(_fallbackSpent, second, requests, tokens);
        Record(_spent, second, requests, tokens);
    }

    // Adds to a second's entry; only the last minute matters to the ledger, so the map stays small.
    private static void Record(Dictionary<long, (long Requests, long Tokens)> spent, long second, long requests, long tokens)
    {
        if (requests == 0 && tokens == 0)
        {
            return;
        }
        var (r, t) = spent.GetValueOrDefault(second);
        spent[second] = (r + requests, t + tokens);
        if (spent.Count > SpentHistory + 8)
        {
            var newest = spent.Keys.Max();
            foreach (var stale in spent.Keys.Where(s => s < newest - SpentHistory).ToArray())
            {
                spent.Remove(stale);
            }
        }
    }
}
