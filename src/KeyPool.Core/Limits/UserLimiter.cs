using System.Collections.Concurrent;

namespace KeyPool.Core.Limits;

/// <summary>
/// Per-user limits of a tier (issue 13), counted in memory on the request path. Minute limits are token buckets
/// (GCRA: one timestamp per limit, like OpenAI's and Anthropic's own per-minute limits): a user may spend a whole
/// minute's allowance at once, and it refills continuously at a sixtieth a second. The day limit counts tokens per
/// UTC day. Tokens are reserved at admission from the estimate and corrected to the real usage when the request
/// completes, so many requests sent at once cannot overshoot a limit.
/// </summary>
/// <remarks>
/// Memory: only users of a tier with limits hold a counter (≈ 200 bytes with its entry), created at their first
/// request. Counters idle for <see cref="IdleAfter"/> (buckets full again, nothing in flight) are dropped by a sweep
/// off the request path; the day total comes back from the store when the user returns (<c>dailyTokens</c>). At the
/// hard cap the least recently active counters are dropped too, down to 90 % of it: those users start afresh — their
/// minute buckets full, their day total read again from the store — which is the price of bounded memory. A new
/// counter's first request is let through on the in-memory count before the stored day total arrives, so users
/// refused for the day keep their counter until midnight rather than get one more request after each idle spell.
/// Without a store to read day totals from, a counter holding a day total is kept until the day ends (still within the cap).
/// </remarks>
public sealed class UserLimiter
{
    /// <summary>How long a counter must be unused before a sweep may drop it.</summary>
    public static readonly TimeSpan IdleAfter = TimeSpan.FromMinutes(2);

    /// <summary>How often a sweep runs (when new users arrive; an idle limiter does not grow).</summary>
    public static readonly TimeSpan SweepInterval = TimeSpan.FromSeconds(30);

    private const long Minute = TimeSpan.TicksPerMinute;

    private readonly ConcurrentDictionary<string, Counter> _counters = new(StringComparer.Ordinal);
    private readonly int _capacity;
    private readonly TimeProvider _time;
    private readonly Func<string, DateOnly, CancellationToken, Task<long>>? _dailyTokens;
    private readonly SemaphoreSlim _seeds;
    private readonly Lock _sweepLock = new();
    private readonly int _maxSeeds;
    private int _count;
    private int _sweepQueued;
    private long _nextSweep;
    private long _seedFailures;
    private readonly long[] _refused = new long[4];

    /// <summary>Creates a limiter holding at most about <paramref name="capacity"/> counters.</summary>
    /// <param name="capacity">The hard cap of counters (at least 2).</param>
    /// <param name="time">The clock.</param>
    /// <param name="dailyTokens">Reads a user's stored tokens of a day (seeds a new counter's day total), or null without a store.</param>
    /// <param name="maxConcurrentSeeds">Store reads in flight at most; a user whose read cannot start now is seeded at a later request.</param>
    public UserLimiter(int capacity, TimeProvider time, Func<string, DateOnly, CancellationToken, Task<long>>? dailyTokens = null, int maxConcurrentSeeds = 8)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 2);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxConcurrentSeeds, 1);
        _capacity = capacity;
        _time = time ?? throw new ArgumentNullException(nameof(time));
        _dailyTokens = dailyTokens;
        _seeds = new SemaphoreSlim(maxConcurrentSeeds, maxConcurrentSeeds);
        _maxSeeds = maxConcurrentSeeds;
        _nextSweep = time.GetUtcNow().UtcTicks + SweepInterval.Ticks;
    }

    /// <summary>Counters held now.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Requests refused so far by <paramref name="limit"/>.</summary>
    public long Refused(UserLimitKind limit) => Interlocked.Read(ref _refused[(int)limit]);

    /// <summary>Day totals being read from the store now.</summary>
    public int SeedsInFlight => _maxSeeds - _seeds.CurrentCount;

    /// <summary>Day totals that could not be read from the store (the count went on from memory, retried at a later request).</summary>
    public long SeedFailures => Interlocked.Read(ref _seedFailures);

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
        var rpm = Share(limits.RequestsPerMinute, instances);
        var tpm = Share(limits.TokensPerMinute, instances);
        var tpd = Share(limits.TokensPerDay, instances);
        while (true)
        {
            var counter = GetOrAdd(userId, now);
            UserLimitDecision decision;
            var seed = false;
            lock (counter)
            {
                if (counter.Evicted)
                {
                    continue; // dropped by a sweep between the lookup and the lock: take the new one
                }
                counter.LastActive = now;
                decision = Decide(counter, limits, rpm, tpm, tpd, tokens, instances, now, day);
                if (tpd is null)
                {
                    counter.DayTokens = 0; // not counted while the tier has no day limit: the store says, if it gets one
                    counter.SeedState = SeedState.Needed;
                }
                else if (counter.SeedState == SeedState.Needed)
                {
                    if (_dailyTokens is null)
                    {
                        counter.SeedState = SeedState.Done;
                    }
                    else if (_seeds.Wait(0))
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
                _ = SeedAsync(userId, counter, day);
            }
            return decision;
        }
    }

    /// <summary>
    /// Drops counters idle for <see cref="IdleAfter"/>, and above the cap the least recently active ones down to
    /// 90 % of it. Runs by itself off the request path; public for tests. Returns the counters dropped.
    /// </summary>
    public int Sweep()
    {
        lock (_sweepLock)
        {
            var now = _time.GetUtcNow().UtcTicks;
            var today = (int)(now / TimeSpan.TicksPerDay);
            var idleBefore = now - IdleAfter.Ticks;
            var dropped = 0;
            foreach (var (userId, counter) in _counters)
            {
                lock (counter)
                {
                    // A user refused for the day stays counted until midnight: dropped, their next counter would let one
                    // request through before its day total arrives from the store, again after every idle spell.
                    var keepsDayTotal = counter.Day == today && (counter.DayRefused || (_dailyTokens is null && counter.DayTokens > 0));
                    if (counter.LastActive > idleBefore || counter.InFlight > 0 || counter.RequestTat > now || counter.TokenTat > now || keepsDayTotal)
                    {
                        continue;
                    }
                    dropped += Drop(userId, counter);
                }
            }
            var excess = Count - (int)(_capacity * 0.9);
            if (excess > 0)
            {
                dropped += DropLeastRecent(excess);
            }
            return dropped;
        }
    }

    internal void Settle(Counter counter, long reserved, long actual, long tokenLimit, int day)
    {
        actual = Math.Max(0, actual);
        var now = _time.GetUtcNow().UtcTicks;
        lock (counter)
        {
            counter.InFlight--;
            if (tokenLimit > 0 && counter.TokenLimit > 0)
            {
                tokenLimit = counter.TokenLimit; // the limit may have changed since admission: the bucket counts in today's units
                // A refund never fills the bucket beyond full (now); usage beyond the estimate is owed.
                var delta = Cost(actual, tokenLimit) - Cost(reserved, tokenLimit);
                counter.TokenTat = Math.Max(now, Math.Max(counter.TokenTat, now) + delta);
            }
            if (day < 0)
            {
                return;
            }
            if (counter.Day == day)
            {
                counter.DayTokens = Math.Max(0, counter.DayTokens + actual - reserved);
            }
            else if (counter.Day == (int)(now / TimeSpan.TicksPerDay))
            {
                counter.DayTokens += actual; // began before midnight, answered after: the store counts it on the day answered
            }
        }
    }

    private static UserLimitDecision Decide(Counter counter, in UserLimits limits, long? rpm, long? tpm, long? tpd, long tokens, int instances, long now, int day)
    {
        if (counter.Day != day)
        {
            counter.Day = day;
            counter.DayTokens = 0;
            counter.Seed = 0;
            counter.DayRefused = false;
            if (counter.SeedState == SeedState.Reading)
            {
                counter.SeedState = SeedState.Done; // yesterday's read: ignored when it lands
            }
        }
        var requestTat = counter.RequestTat;
        if (rpm is { } requestLimit)
        {
            Rescale(ref counter.RequestTat, ref counter.RequestLimit, requestLimit, now);
            requestTat = Math.Max(counter.RequestTat, now) + Cost(1, requestLimit);
            if (requestTat - now > Minute)
            {
                return Refused(UserLimitKind.RequestsPerMinute, limits.RequestsPerMinute!.Value, requestTat - Minute - now);
            }
        }
        var tokenTat = counter.TokenTat;
        if (tpm is { } tokenLimit)
        {
            Rescale(ref counter.TokenTat, ref counter.TokenLimit, tokenLimit, now);
            var cost = Cost(tokens, tokenLimit);
            tokenTat = Math.Max(counter.TokenTat, now) + cost;
            // A request bigger than the whole minute passes only into a full bucket, otherwise it never could.
            if (tokenTat - now > Minute && counter.TokenTat > now)
            {
                var wait = cost > Minute ? counter.TokenTat - now : tokenTat - Minute - now;
                return Refused(UserLimitKind.TokensPerMinute, limits.TokensPerMinute!.Value, wait);
            }
        }
        if (tpd is { } dayLimit)
        {
            var used = counter.DayTokens + (counter.Seed / instances);
            if (used + tokens > dayLimit && used > 0)
            {
                counter.DayRefused = true;
                return Refused(UserLimitKind.TokensPerDay, limits.TokensPerDay!.Value, ((day + 1) * TimeSpan.TicksPerDay) - now);
            }
            counter.DayTokens += tokens;
        }
        counter.RequestTat = requestTat;
        counter.TokenTat = tokenTat;
        return default;
    }

    // A bucket's time ahead of now is what was used, in the units of the limit it was counted under: when the limit
    // (the tier, or the number of instances sharing it) changes, the same use is a different share of the new one.
    private static void Rescale(ref long tat, ref long countedUnder, long limit, long now)
    {
        if (countedUnder != limit)
        {
            if (countedUnder > 0 && tat > now)
            {
                tat = now + (long)Int128.Min((Int128)(tat - now) * countedUnder / limit, long.MaxValue / 4);
            }
            countedUnder = limit;
        }
    }

    private static UserLimitDecision Refused(UserLimitKind kind, long limit, long waitTicks) =>
        new(default, kind, limit, (int)Math.Clamp((waitTicks + TimeSpan.TicksPerSecond - 1) / TimeSpan.TicksPerSecond, 1, int.MaxValue));

    // The time one unit of a limit of `limit` a minute takes to refill: tokens × 60 s / limit, in ticks, without overflow.
    private static long Cost(long units, long limit) => units <= long.MaxValue / Minute
        ? units * Minute / limit // the common case: Int128 division is a software routine
        : (long)Int128.Min((Int128)units * Minute / limit, long.MaxValue / 4);

    private static long? Share(long? limit, int instances) => limit is { } value ? (value + instances - 1) / instances : null;

    private Counter GetOrAdd(string userId, long now)
    {
        while (true)
        {
            if (_counters.TryGetValue(userId, out var counter))
            {
                return counter;
            }
            var created = new Counter { LastActive = now, Day = (int)(now / TimeSpan.TicksPerDay) };
            if (_counters.TryAdd(userId, created))
            {
                if (Interlocked.Increment(ref _count) >= _capacity || now >= Volatile.Read(ref _nextSweep))
                {
                    QueueSweep(now);
                }
                return created;
            }
        }
    }

    private void QueueSweep(long now)
    {
        if (Interlocked.CompareExchange(ref _sweepQueued, 1, 0) != 0)
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

    private int DropLeastRecent(int excess)
    {
        // Rare (the cap is sized above the users active in a few minutes), so a sort of the activity times will do.
        var times = _counters.Values.Select(c => Volatile.Read(ref c.LastActive)).ToArray();
        if (times.Length == 0)
        {
            return 0;
        }
        Array.Sort(times);
        var cutoff = times[Math.Min(excess, times.Length) - 1];
        var dropped = 0;
        foreach (var (userId, counter) in _counters)
        {
            if (dropped >= excess)
            {
                break;
            }
            lock (counter)
            {
                if (counter.LastActive <= cutoff && counter.InFlight == 0)
                {
                    dropped += Drop(userId, counter);
                }
            }
        }
        return dropped;
    }

    private int Drop(string userId, Counter counter)
    {
        if (!_counters.TryRemove(new KeyValuePair<string, Counter>(userId, counter)))
        {
            return 0;
        }
        counter.Evicted = true;
        Interlocked.Decrement(ref _count);
        return 1;
    }

    private async Task SeedAsync(string userId, Counter counter, int day)
    {
        try
        {
            var stored = await _dailyTokens!(userId, DateOnly.FromDayNumber(day), CancellationToken.None).ConfigureAwait(false);
            lock (counter)
            {
                if (counter.Day == day && counter.SeedState == SeedState.Reading)
                {
                    counter.Seed = Math.Max(0, stored);
                    counter.SeedState = SeedState.Done;
                }
            }
        }
#pragma warning disable CA1031 // The store is down or slow: the count goes on from memory and the read is retried at a later request.
        catch (Exception)
#pragma warning restore CA1031
        {
            Interlocked.Increment(ref _seedFailures);
            lock (counter)
            {
                if (counter.SeedState == SeedState.Reading)
                {
                    counter.SeedState = SeedState.Needed;
                }
            }
        }
        finally
        {
            _seeds.Release();
        }
    }

    internal enum SeedState : byte
    {
        Needed,
        Reading,
        Done,
    }

    /// <summary>One user's counts; every field is guarded by a lock on the counter.</summary>
    internal sealed class Counter
    {
        public long RequestTat; // the GCRA "theoretical arrival time" of the request bucket, in UTC ticks
        public long TokenTat;
        public long DayTokens; // counted here today (reservations included)
        public long Seed; // the day's tokens read from the store when the counter was made
        public long LastActive;
        public long RequestLimit; // the limits the buckets were counted under (a tier change rescales them)
        public long TokenLimit;
        public int Day;
        public int InFlight;
        public SeedState SeedState;
        public bool DayRefused;
        public bool Evicted;
    }
}
