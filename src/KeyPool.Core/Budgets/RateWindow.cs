namespace KeyPool.Core.Budgets;

/// <summary>
/// One sliding-minute budget of requests and tokens, in one-second buckets (<see cref="MinuteBuckets"/>, the table;
/// this class holds the rules), with a burst allowance. A bucket leaves the window 61 s after its second began, so the
/// window always covers at least the last full 60 s: the upstream, which counts exactly 60 s, never sees more than the
/// limit. Inside the minute a token bucket (refilled by a sixtieth of the budget each second, holding
/// <see cref="BudgetLimits.BurstSeconds"/> of it) lets a quiet key take a burst at once (a user's requests stay on
/// their key) without spending the whole minute in its first second.
/// </summary>
public sealed partial class RateWindow
{
    private const int Buckets = MinuteBuckets.Count;
    private const int MinPaceSeconds = 10;

    // Bucket credit is kept in sixtieths (of a request, of a token): a second adds exactly the minute's
    // budget in these units, so the refill is exact integer arithmetic.
    private const long Unit = 60;

    private readonly Lock _lock = new();
    private readonly MinuteBuckets _buckets = new();
    private long _requestCredit;
    private long _tokenCredit;
    private int _burstRequests;
    private long _burstTokens;
    private int _tightenings;
    private long _openReservations;
    private long _reservedTokens;

    /// <summary>Creates a window with <paramref name="limits"/>, its burst allowance full.</summary>
    public RateWindow(BudgetLimits limits)
    {
        Limits = limits;
        _burstRequests = limits.BurstRequests;
        _burstTokens = limits.BurstTokens;
        _requestCredit = _burstRequests * Unit;
        _tokenCredit = _burstTokens * Unit;
    }

    /// <summary>The limits enforced.</summary>
    public BudgetLimits Limits { get; }

    /// <summary>Requests one burst may hold now: <see cref="BudgetLimits.BurstRequests"/>, less after <see cref="TightenBurst"/>.</summary>
    public int BurstRequests => Volatile.Read(ref _burstRequests);

    /// <summary>How often the upstream's refusals made this window tighten its burst (0: never).</summary>
    public int Tightenings => Volatile.Read(ref _tightenings);

    /// <summary>
    /// Reserves one request and <paramref name="tokens"/> tokens at <paramref name="second"/> if both fit. For a user
    /// over their fair share (<paramref name="overShare"/>) only if the others keep what they need: a second's worth of
    /// budget free now, and over every coming span what the window frees covers the others' recent pace.
    /// </summary>
    public bool TryAcquire(long second, long tokens, bool overShare = false)
    {
        lock (_lock)
        {
            Advance(second);
            if (_buckets.Requests + 1 > Limits.RequestsPerMinute || _requestCredit < Unit)
            {
                return false;
            }
            // A request bigger than a whole burst (or minute) passes only into a full bucket (an empty window),
            // otherwise it could never pass at all; the bucket then owes the difference.
            var tokenCost = tokens * Unit;
            if ((_buckets.Tokens > 0 && _buckets.Tokens + tokens > Limits.TokensPerMinute) || (_tokenCredit < tokenCost && _tokenCredit < _burstTokens * Unit))
            {
                return false;
            }
            if (overShare && !LeavesEnoughForOthers(second, tokens))
            {
                return false;
            }
            _buckets.Add(second, 1, tokens, overShare);
            _requestCredit -= Unit;
            _tokenCredit -= tokenCost;
            _openReservations++;
            _reservedTokens += tokens;
            return true;
        }
    }

    // Under the lock, the request already known to fit. The window frees at second + i what was spent in the bucket
    // leaving then; the others (everyone not over their share) spent the window's requests less the over-share ones.
    private bool LeavesEnoughForOthers(long second, long tokens)
    {
        var reserve = Limits.RequestsPerSecond;
        if (_requestCredit < (1 + Math.Min(reserve, _burstRequests - 1)) * Unit
            || (_buckets.Tokens > 0 && _buckets.Tokens + tokens + Limits.TokensPerSecond > Limits.TokensPerMinute))
        {
            return false;
        }
        // The pace over the window's run so far, but over at least 10 s: two requests in a window's first second are no rate.
        var pace = (double)(_buckets.Requests - _buckets.OverShare) / Math.Clamp(second - _buckets.Since + 1, MinPaceSeconds, Buckets);
        double covered = Limits.RequestsPerMinute - _buckets.Requests - 1;
        if (covered < reserve)
        {
            return false;
        }
        for (var i = 1; i < Buckets; i++)
        {
            covered += _buckets.RequestsAt(second + i);
            if (covered < (pace * i) + reserve)
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>Replaces a reservation made at <paramref name="second"/> with what the request really cost.</summary>
    public void Settle(long second, long reserved, long actual)
    {
        lock (_lock)
        {
            _openReservations--;
            _reservedTokens -= reserved;
            Advance(second);
            // The bucket gets back what was reserved and not spent (or owes what was spent beyond it).
            _tokenCredit = Math.Min(_burstTokens * Unit, _tokenCredit + (reserved - actual) * Unit);
            _buckets.CorrectTokens(second, actual - reserved);
        }
    }

    /// <summary>Corrects the tokens counted at <paramref name="second"/> by <paramref name="delta"/> (never below zero) for a reservation made elsewhere.</summary>
    public void Correct(long second, long delta)
    {
        lock (_lock)
        {
            _buckets.CorrectTokens(second, delta);
        }
    }

    /// <summary>
    /// Whether less than half of the minute's requests or tokens, or of the burst, is free: a hint read without the
    /// lock (a value not yet advanced to the current second only overstates what is spent).
    /// </summary>
    public bool IsShort() =>
        _buckets.Requests * 2 > Limits.RequestsPerMinute
        || _buckets.Tokens > Limits.TokensPerMinute / 2
        || Volatile.Read(ref _requestCredit) < Volatile.Read(ref _burstRequests) * (Unit / 2);

    /// <summary>
    /// Reservations taken by <see cref="TryAcquire"/> and not yet settled, and the tokens they hold: what requests in
    /// flight hold now. Back to zero when every admitted request was settled exactly once (a leak shows here).
    /// </summary>
    public (long Requests, long Tokens) Reserved
    {
        get
        {
            lock (_lock)
            {
                return (_openReservations, _reservedTokens);
            }
        }
    }

    /// <summary>Requests and tokens counted in the window at <paramref name="second"/>.</summary>
    public (long Requests, long Tokens) Used(long second)
    {
        lock (_lock)
        {
            Advance(second);
            return (_buckets.Requests, _buckets.Tokens);
        }
    }

    /// <summary>The fraction of the tighter budget still free: 1 idle, 0 full (burst or minute).</summary>
    public double Headroom(long second)
    {
        lock (_lock)
        {
            Advance(second);
            var burst = _requestCredit < Unit ? 0 : (double)_requestCredit / (_burstRequests * Unit);
            var requests = Math.Min(1.0 - (double)_buckets.Requests / Limits.RequestsPerMinute, burst);
            var tokens = 1.0 - (double)_buckets.Tokens / Limits.TokensPerMinute;
            return Math.Max(0, Math.Min(requests, tokens));
        }
    }

    /// <summary>Requests that could start at <paramref name="second"/> (each with few tokens): the tighter of burst and minute.</summary>
    public int FreeRequests(long second)
    {
        lock (_lock)
        {
            Advance(second);
            return (int)Math.Max(0, Math.Min(Limits.RequestsPerMinute - _buckets.Requests, _requestCredit / Unit));
        }
    }

    /// <summary>
    /// Forecasts, from the state now, how many requests could start in each of the coming seconds if every free one were
    /// taken as soon as it frees: <paramref name="perSecond"/>[i] is for <paramref name="second"/> + i. Only the request
    /// budget is forecast (tokens depend on requests not yet seen).
    /// </summary>
    public void ForecastRequests(long second, Span<int> perSecond)
    {
        Span<long> requests = stackalloc long[Buckets];
        long sum, credit;
        lock (_lock)
        {
            Advance(second);
            _buckets.CopyRequests(requests);
            sum = _buckets.Requests;
            credit = _requestCredit;
        }
        RequestForecast.Run(requests, sum, credit, (long)BurstRequests * Unit, Limits.RequestsPerMinute, Unit, second, perSecond);
    }

    /// <summary>Seconds from <paramref name="second"/> until a request could fit again (at least 1).</summary>
    public int SecondsUntilFree(long second)
    {
        lock (_lock)
        {
            Advance(second);
            var wait = 1L;
            if (_requestCredit < Unit)
            {
                wait = Math.Max(wait, (Unit - _requestCredit + Limits.RequestsPerMinute - 1) / Math.Max(1, Limits.RequestsPerMinute));
            }
            if (_buckets.Requests < Limits.RequestsPerMinute && _buckets.Tokens < Limits.TokensPerMinute)
            {
                return (int)Math.Min(60, wait);
            }
            // The minute is full: wait for the oldest non-empty bucket to leave.
            for (var age = Buckets - 1; age >= 0; age--)
            {
                var bucketSecond = second - age;
                if (_buckets.Holds(bucketSecond))
                {
                    return (int)Math.Max(wait, bucketSecond + Buckets - second);
                }
            }
            return (int)wait;
        }
    }

    // Moves the buckets on and refills the burst allowance for the seconds that passed.
    private void Advance(long second)
    {
        var elapsed = _buckets.Advance(second);
        if (elapsed == long.MaxValue)
        {
            _requestCredit = _burstRequests * Unit;
            _tokenCredit = _burstTokens * Unit;
        }
        else if (elapsed > 0)
        {
            _requestCredit = Math.Min(_burstRequests * Unit, _requestCredit + elapsed * Limits.RequestsPerMinute);
            _tokenCredit = Math.Min(_burstTokens * Unit, _tokenCredit + elapsed * Limits.TokensPerMinute);
        }
    }
}
