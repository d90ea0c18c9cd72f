using KeyPool.Core.Tables;

namespace KeyPool.Core.Limits;

/// <summary>
/// Per-user limits of a tier, counted in memory on the request path (the rules are <see cref="UserLimitRules"/>).
/// Tokens are reserved at admission from the estimate and corrected to the real usage when the request completes,
/// so many requests sent at once cannot overshoot a limit.
/// </summary>
/// <remarks>
/// Memory: only users of a tier with limits hold a counter (≈ 200 bytes with its entry), created at their first
/// request, in a <see cref="BoundedTable{TKey, TValue}"/>. Counters idle for <see cref="IdleAfter"/> (buckets full
/// again, nothing in flight) are dropped by a sweep off the request path once the table is half full; the day
/// total comes back from the store when the user returns (<c>dailyTokens</c>). Above the cap the least recently
/// active counters are dropped at once, down to 90 % of it: those users start afresh — their minute buckets full,
/// their day total read again from the store — which is the price of bounded memory. A new counter's first request
/// is let through on the in-memory count before the stored day total arrives, so users refused for the day keep
/// their counter until midnight rather than get one more request after each idle spell. Without a store to read
/// day totals from, a counter holding a day total is kept until the day ends (still within the cap).
/// </remarks>
public sealed class UserLimiter
{
    /// <summary>How long a counter must be unused before a sweep may drop it.</summary>
    public static readonly TimeSpan IdleAfter = TimeSpan.FromMinutes(2);

    /// <summary>How often a sweep of idle counters runs while the table is at least half full (an idle limiter does not grow).</summary>
    public static readonly TimeSpan SweepInterval = TimeSpan.FromSeconds(30);

    private readonly BoundedTable<string, UserCounter> _counters;
    private readonly TimeProvider _time;
    private readonly UserDaySeeds? _seeds;
    private readonly long[] _refused = new long[4];
    private int _sweepQueued;
    private long _nextSweep;

    /// <summary>Creates a limiter holding at most <paramref name="capacity"/> counters.</summary>
    /// <param name="capacity">The hard cap of counters (at least 2).</param>
    /// <param name="time">The clock.</param>
    /// <param name="dailyTokens">Reads a user's stored tokens of a day (seeds a new counter's day total), or null without a store.</param>
    /// <param name="maxConcurrentSeeds">Store reads in flight at most; a user whose read cannot start now is seeded at a later request.</param>
    public UserLimiter(int capacity, TimeProvider time, Func<string, DateOnly, CancellationToken, Task<long>>? dailyTokens = null, int maxConcurrentSeeds = 8)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 2);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxConcurrentSeeds, 1);
        _time = time ?? throw new ArgumentNullException(nameof(time));
        _seeds = dailyTokens is null ? null : new UserDaySeeds(dailyTokens, maxConcurrentSeeds);
        _counters = new BoundedTable<string, UserCounter>(capacity, time, IdleAfter, StringComparer.Ordinal) { Retire = Retire };
        _nextSweep = time.GetUtcNow().UtcTicks + SweepInterval.Ticks;
    }

    /// <summary>Counters held now.</summary>
    public int Count => _counters.Count;

    /// <summary>Requests refused so far by <paramref name="limit"/>.</summary>
    public long Refused(UserLimitKind limit) => Interlocked.Read(ref _refused[(int)limit]);

    /// <summary>Day totals being read from the store now.</summary>
    public int SeedsInFlight => _seeds?.InFlight ?? 0;

    /// <summary>Day totals that could not be read from the store (the count went on from memory, retried at a later request).</summary>
    public long SeedFailures => _seeds?.Failures ?? 0;

    /// <summary>
    /// Admits one request of <paramref name="userId"/> costing an estimated <paramref name="tokens"/> if every limit of
    /// <paramref name="limits"/> has room, reserving it; with no limit set it returns at once and holds nothing.
    /// <paramref name="instances"/> share each limit (each enforces its share, rounded up).
    /// </summary>
    public UserLimitDecision TryAcquire(string userId, in UserLimits limits, long tokens, int instances = 1)
    {
        if (!limits.Any)
        {
            return default;
        }
        ArgumentNullException.ThrowIfNull(userId);
        instances = Math.Max(1, instances);
        tokens = Math.Max(0, tokens);
        var now = _time.GetUtcNow().UtcTicks;
        var day = (int)(now / TimeSpan.TicksPerDay); // UtcTicks count from 0001-01-01, as DateOnly.DayNumber does
        var rpm = UserLimitRules.Share(limits.RequestsPerMinute, instances);
        var tpm = UserLimitRules.Share(limits.TokensPerMinute, instances);
        var tpd = UserLimitRules.Share(limits.TokensPerDay, instances);
        MaybeQueueSweep(now);
        while (true)
        {
            var counter = _counters.GetOrAdd(userId, static (_, day) => new UserCounter { Day = day }, day);
            UserLimitDecision decision;
            var seed = false;
            lock (counter)
            {
                if (counter.Evicted)
                {
                    _counters.Remove(userId, counter); // dropped by a sweep between the lookup and the lock: take a new one
                    continue;
                }
                decision = UserLimitRules.Decide(counter, limits, rpm, tpm, tpd, tokens, instances, now, day);
                if (tpd is null)
                {
                    counter.DayTokens = 0; // not counted while the tier has no day limit: the store says, if it gets one
                    counter.SeedState = SeedState.Needed;
                }
                else if (counter.SeedState == SeedState.Needed)
                {
                    if (_seeds is null)
                    {
                        counter.SeedState = SeedState.Done;
                    }
                    else if (_seeds.TryStart())
                    {
                        counter.SeedState = SeedState.Reading;
                        seed = true;
                    }
                }
                if (!decision.Admitted)
                {
                    Interlocked.Increment(ref _refused[(int)decision.Exceeded]);
                }
                else
                {
                    counter.InFlight++;
                    decision = decision with { Reservation = new UserReservation(this, counter, tokens, tpm ?? 0, tpd is null ? -1 : day) };
                }
            }
            if (seed)
            {
                _ = _seeds!.ReadAsync(userId, counter, day);
            }
            return decision;
        }
    }

    /// <summary>
    /// Drops counters idle for <see cref="IdleAfter"/>, and above the cap the least recently active ones down to
    /// 90 % of it. Runs by itself off the request path; public for tests. Returns the counters dropped.
    /// </summary>
    public int Sweep() => _counters.Sweep();

    internal void Settle(UserCounter counter, long reserved, long actual, long tokenLimit, int day)
    {
        actual = Math.Max(0, actual);
        var now = _time.GetUtcNow().UtcTicks;
        lock (counter)
        {
            UserLimitRules.Settle(counter, reserved, actual, tokenLimit, day, now);
        }
    }

    // Asked by the table before a counter leaves: kept while it still holds something a fresh counter would lose.
    private bool Retire(UserCounter counter, EvictionCause cause)
    {
        var now = _time.GetUtcNow().UtcTicks;
        lock (counter)
        {
            if (!counter.MayDrop(cause == EvictionCause.Idle, now, keepDayTotals: _seeds is null))
            {
                return false;
            }
            counter.Evicted = true;
            return true;
        }
    }

    // Below half the cap idle counters cost little memory; from there a sweep every interval keeps the table lean
    // (the cap itself is enforced by the table as counters are added).
    private void MaybeQueueSweep(long now)
    {
        if (now < Volatile.Read(ref _nextSweep) || _counters.Count < _counters.Capacity / 2
            || Interlocked.CompareExchange(ref _sweepQueued, 1, 0) != 0)
        {
            return;
        }
        Volatile.Write(ref _nextSweep, now + SweepInterval.Ticks);
        ThreadPool.UnsafeQueueUserWorkItem(static limiter =>
        {
            try
            {
                limiter.Sweep();
            }
            finally
            {
                Volatile.Write(ref limiter._sweepQueued, 0);
            }
        }, this, preferLocal: false);
    }
}
