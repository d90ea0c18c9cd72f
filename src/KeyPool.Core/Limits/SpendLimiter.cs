using System.Collections.Concurrent;
using KeyPool.Core.Money;

namespace KeyPool.Core.Limits;

/// <summary>What one user of a tier may spend, in USD ticks (1 USD = 10^10 ticks, the upstream's <c>cost_in_usd_ticks</c>); null is no limit.</summary>
/// <param name="TicksPerDay">Spend per UTC day.</param>
/// <param name="TicksPerMonth">Spend per UTC calendar month.</param>
public readonly record struct SpendLimits(long? TicksPerDay = null, long? TicksPerMonth = null)
{
    /// <summary>True when a limit is set: only then does the user hold a counter.</summary>
    public bool Any => TicksPerDay is not null || TicksPerMonth is not null;

    /// <summary>Limits from dollar amounts (null: none).</summary>
    public static SpendLimits FromUsd(decimal? perDay, decimal? perMonth) => new(Ticks(perDay), Ticks(perMonth));

    private static long? Ticks(decimal? usd) => usd is { } value ? (long)Math.Min(long.MaxValue, Math.Round(value * UsdTicks.PerUsd)) : null;
}

/// <summary>The answer of <see cref="SpendLimiter.TryAcquire"/>; <see cref="Admitted"/> when <see cref="Exceeded"/> is null.</summary>
/// <param name="Reservation">What to settle with the real cost (null when refused or unlimited).</param>
/// <param name="Exceeded">"day" or "month" when refused; null when admitted.</param>
/// <param name="LimitTicks">That limit, for the whole pool.</param>
/// <param name="RetryAfterSeconds">Seconds to the UTC day's or month's end.</param>
public readonly record struct SpendDecision(SpendReservation? Reservation, string? Exceeded, long LimitTicks, int RetryAfterSeconds)
{
    /// <summary>True when the request may go on.</summary>
    public bool Admitted => Exceeded is null;
}

/// <summary>Spend reserved for one admitted request until it is settled with the real cost.</summary>
public sealed class SpendReservation
{
    private readonly SpendLimiter _limiter;
    private readonly SpendLimiter.Counter _counter;
    private readonly int _day;
    private readonly int _month;
    private int _settled;

    internal SpendReservation(SpendLimiter limiter, SpendLimiter.Counter counter, long ticks, int day, int month)
    {
        _limiter = limiter;
        _counter = counter;
        Ticks = ticks;
        _day = day;
        _month = month;
    }

    /// <summary>Ticks reserved (the estimate).</summary>
    public long Ticks { get; }

    /// <summary>Replaces the estimate with what the request really cost (0 when the upstream charged nothing). Once; later calls do nothing.</summary>
    public void Settle(long actualTicks)
    {
        if (Interlocked.Exchange(ref _settled, 1) == 0)
        {
            _limiter.Settle(_counter, Ticks, Math.Max(0, actualTicks), _day, _month);
        }
    }
}

/// <summary>
/// Per-user spend limits of a tier in money, per UTC day and calendar month, counted in memory on the request path. A
/// request reserves its estimated cost at admission and is settled with the upstream's real cost, so requests sent at
/// once cannot overshoot by more than their estimates' error; a user at or over a limit is refused until the day's or
/// month's end. With several instances each enforces its share (limit / live instances, rounded up), like the token
/// limits.
/// </summary>
/// <remarks>
/// Memory: only users of a tier with a spend limit hold a counter (≈ 150 bytes). At the cap the least recently active
/// tenth is dropped: with a <c>seed</c> (the stored spend of a user's day and month) those come back from the store; without
/// one they start afresh, the price of bounded memory. A new counter's first requests are counted from memory until the
/// seed arrives.
/// </remarks>
public sealed class SpendLimiter
{
    private readonly ConcurrentDictionary<string, Counter> _counters = new(StringComparer.Ordinal);
    private readonly int _capacity;
    private readonly TimeProvider _time;
    private readonly Func<string, DateOnly, CancellationToken, Task<(long Day, long Month)>>? _seed;
    private const int MaxSeeds = 8;
    private readonly SemaphoreSlim _seeds = new(MaxSeeds, MaxSeeds);
    private readonly Lock _evictLock = new();
    private long _refused;
    private long _seedFailures;

    /// <summary>Creates a limiter holding at most about <paramref name="capacity"/> counters.</summary>
    /// <param name="capacity">Counters held at most (at least 10).</param>
    /// <param name="time">The clock (UTC days and months).</param>
    /// <param name="seed">Reads a user's stored spend of a day and of its month, in ticks; null without stored cost.</param>
    public SpendLimiter(int capacity, TimeProvider time, Func<string, DateOnly, CancellationToken, Task<(long Day, long Month)>>? seed = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 10);
        _capacity = capacity;
        _time = time ?? throw new ArgumentNullException(nameof(time));
        _seed = seed;
    }

    /// <summary>Counters held now.</summary>
    public int Count => _counters.Count;

    /// <summary>Requests refused so far.</summary>
    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>Reads of stored spend under way.</summary>
    public int SeedsInFlight => MaxSeeds - _seeds.CurrentCount;

    /// <summary>Reads of stored spend that failed (the user was counted from memory).</summary>
    public long SeedFailures => Interlocked.Read(ref _seedFailures);

    /// <summary>
    /// Admits one request of <paramref name="userId"/> estimated to cost <paramref name="estimateTicks"/> if neither
    /// limit of <paramref name="limits"/> is reached (this instance's share of it), reserving the estimate.
    /// </summary>
    public SpendDecision TryAcquire(string userId, in SpendLimits limits, long estimateTicks, int instances = 1)
    {
        if (!limits.Any)
        {
            return default;
        }
        ArgumentNullException.ThrowIfNull(userId);
        estimateTicks = Math.Max(0, estimateTicks);
        instances = Math.Max(1, instances);
        var now = _time.GetUtcNow();
        var (day, month) = Periods(now);
        var perDay = Share(limits.TicksPerDay, instances);
        var perMonth = Share(limits.TicksPerMonth, instances);
        var counter = GetOrAdd(userId, now.UtcTicks, out var created);
        SpendDecision decision;
        lock (counter)
        {
            counter.Roll(day, month);
            counter.LastActive = now.UtcTicks;
            if (perMonth is { } m && Over(counter.Month, estimateTicks, m))
            {
                decision = new SpendDecision(null, "month", limits.TicksPerMonth!.Value, UntilMonthEnd(now));
            }
            else if (perDay is { } d && Over(counter.Day, estimateTicks, d))
            {
                decision = new SpendDecision(null, "day", limits.TicksPerDay!.Value, UntilDayEnd(now));
            }
            else
            {
                counter.Day += estimateTicks;
                counter.Month += estimateTicks;
                decision = new SpendDecision(new SpendReservation(this, counter, estimateTicks, day, month), null, 0, 0);
            }
        }
        if (!decision.Admitted)
        {
            Interlocked.Increment(ref _refused);
        }
        if (created && _seed is not null && _seeds.Wait(0))
        {
            _ = SeedAsync(userId, counter, DateOnly.FromDateTime(now.UtcDateTime));
        }
        return decision;
    }

    internal void Settle(Counter counter, long reserved, long actual, int day, int month)
    {
        lock (counter)
        {
            // A request admitted before midnight (or the month's end) and answered after belongs to the period it began in.
            if (counter.DayNumber == day)
            {
                counter.Day = Math.Max(0, counter.Day + actual - reserved);
            }
            if (counter.MonthNumber == month)
            {
                counter.Month = Math.Max(0, counter.Month + actual - reserved);
            }
        }
    }

    private async Task SeedAsync(string userId, Counter counter, DateOnly today)
    {
        try
        {
            var (day, month) = await _seed!(userId, today, CancellationToken.None).ConfigureAwait(false);
            lock (counter)
            {
                if (counter.DayNumber == today.DayNumber)
                {
                    counter.Day += Math.Max(0, day);
                }
                if (counter.MonthNumber == (today.Year * 12) + today.Month - 1)
                {
                    counter.Month += Math.Max(0, month);
                }
            }
        }
        catch (Exception exception) when (exception is not OutOfMemoryException)
        {
            Interlocked.Increment(ref _seedFailures); // counted from memory; the host logs the store's failure
        }
        finally
        {
            _seeds.Release();
        }
    }

    private Counter GetOrAdd(string userId, long now, out bool created)
    {
        created = false;
        if (_counters.TryGetValue(userId, out var counter))
        {
            return counter;
        }
        if (_counters.Count >= _capacity)
        {
            Evict();
        }
        var fresh = new Counter { LastActive = now };
        counter = _counters.GetOrAdd(userId, fresh);
        created = ReferenceEquals(counter, fresh);
        return counter;
    }

    // The least recently active tenth goes; a request holding a dropped counter still settles on it, harmlessly.
    private void Evict()
    {
        lock (_evictLock)
        {
            if (_counters.Count < _capacity)
            {
                return;
            }
            foreach (var (userId, _) in _counters.OrderBy(c => Volatile.Read(ref c.Value.LastActive)).Take(Math.Max(1, _capacity / 10)).ToList())
            {
                _counters.TryRemove(userId, out _);
            }
        }
    }

    private static (int Day, int Month) Periods(DateTimeOffset now)
    {
        var utc = now.UtcDateTime;
        return (DateOnly.FromDateTime(utc).DayNumber, (utc.Year * 12) + utc.Month - 1);
    }

    // Reached, or this estimate would pass it; a request estimated above a whole limit passes while nothing is spent,
    // as for the token limits: otherwise a small budget and a large max_tokens would refuse a user who spent nothing.
    private static bool Over(long spent, long estimate, long limit) => spent >= limit || (spent > 0 && spent + estimate > limit);

    private static long? Share(long? limit, int instances) => limit is { } value ? (value + instances - 1) / instances : null;

    private static int UntilDayEnd(DateTimeOffset now) => Seconds(now.UtcDateTime.Date.AddDays(1) - now.UtcDateTime);

    private static int UntilMonthEnd(DateTimeOffset now)
    {
        var utc = now.UtcDateTime;
        return Seconds(new DateTime(utc.Year, utc.Month, 1, 0, 0, 0, DateTimeKind.Utc).AddMonths(1) - utc);
    }

    private static int Seconds(TimeSpan span) => (int)Math.Max(1, Math.Ceiling(span.TotalSeconds));

    /// <summary>One user's spend of the current day and month, reservations included. Used under its own lock.</summary>
    internal sealed class Counter
    {
        public long Day;
        public long Month;
        public int DayNumber = int.MinValue;
        public int MonthNumber = int.MinValue;
        public long LastActive;

        public void Roll(int day, int month)
        {
            if (DayNumber != day)
            {
                (DayNumber, Day) = (day, 0);
            }
            if (MonthNumber != month)
            {
                (MonthNumber, Month) = (month, 0);
            }
        }
    }
}
