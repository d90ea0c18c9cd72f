using System.Collections.Concurrent;

namespace KeyPool.Core.Usage;

/// <summary>
/// Aggregates usage per user per UTC day in memory, off the database (issue 13). Only what is pending since
/// the last flush is held: an entry is created by a user's first request in a flush interval and dropped
/// by the first flush that finds it idle, so the table holds the users active in the last two intervals.
/// While the store is down, failed flushes put their rows back; the table is then capped at
/// <see cref="MaxPendingRows"/> rows, beyond which a new user's usage is counted in <see cref="DroppedRequests"/>
/// instead of held (users already pending keep being counted).
/// </summary>
public sealed partial class UserUsageRecorder
{
    /// <summary>The default cap on pending (user, day) rows: a day of a 30-key pool (≈ 900,000 users) held through an outage.</summary>
    public const int DefaultMaxPendingRows = 2_000_000;

    /// <summary>Rows per store transaction when a flush has more (see <see cref="FlushAsync"/>).</summary>
    public const int ChunkRows = 100_000;

    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<Key, UserUsageCounters> _pending = new();
    // One flush at a time, and reads that add pending rows to stored ones never see a row in flight (taken, not yet committed).
    private readonly SemaphoreSlim _flushGate = new(1, 1);
    private int _rows; // entries in _pending; ConcurrentDictionary.Count takes every lock
    private long _droppedRequests;
    private long _droppedTokens;

    /// <summary>Creates an empty recorder.</summary>
    /// <param name="timeProvider">The clock that says which UTC day a request counts on.</param>
    /// <param name="maxPendingRows">The cap on pending (user, day) rows; see the class remarks.</param>
    public UserUsageRecorder(TimeProvider timeProvider, int maxPendingRows = DefaultMaxPendingRows)
    {
        _time = timeProvider ?? throw new ArgumentNullException(nameof(timeProvider));
        ArgumentOutOfRangeException.ThrowIfLessThan(maxPendingRows, 1);
        MaxPendingRows = maxPendingRows;
    }

    /// <summary>The cap on pending (user, day) rows.</summary>
    public int MaxPendingRows { get; }

    /// <summary>(user, day) entries held: users active in the last two flush intervals, plus rows kept while the store is down.</summary>
    public int PendingRows => Volatile.Read(ref _rows);

    /// <summary>Requests not held because the table was full (the store was down for long); never reset.</summary>
    public long DroppedRequests => Interlocked.Read(ref _droppedRequests);

    /// <summary>Tokens not held because the table was full; never reset.</summary>
    public long DroppedTokens => Interlocked.Read(ref _droppedTokens);

    /// <summary>The UTC day of the clock: the day a request recorded now counts on.</summary>
    public DateOnly Today => DateOnly.FromDateTime(_time.GetUtcNow().UtcDateTime);

    /// <summary>
    /// Counts what one upstream answer cost <paramref name="userId"/> today: a request when the status is 2xx,
    /// and the tokens whatever the status. Allocation-free once the user has a pending entry.
    /// </summary>
    public void Record(string userId, in UsageSample sample)
    {
        ArgumentNullException.ThrowIfNull(userId);
        var usage = new UserDayUsage(
            userId, Today, sample.Status is >= 200 and < 300 ? 1 : 0,
            sample.PromptTokens, sample.CompletionTokens, sample.ReasoningTokens, sample.CachedTokens, sample.TotalTokens,
            sample.CostTicks, sample.CostEstimated ? sample.CostTicks : 0);
        if (!UserUsageSums.IsZero(usage))
        {
            Add(usage, capped: true);
        }
    }

    /// <summary>
    /// What <paramref name="userId"/> has pending today (not yet handed to a flush): cheap, lock-free, no store.
    /// Rows of a flush in progress are in neither this nor the store until it commits; use
    /// <see cref="ReadUserAsync"/> for an exact figure.
    /// </summary>
    public UserDayUsage PendingToday(string userId) => Pending(userId, Today);

    /// <summary>What <paramref name="userId"/> has pending on <paramref name="day"/>; see <see cref="PendingToday"/>.</summary>
    public UserDayUsage Pending(string userId, DateOnly day)
    {
        ArgumentNullException.ThrowIfNull(userId);
        return _pending.TryGetValue(new Key(userId, day), out var counters)
            ? counters.Read(userId, day)
            : new UserDayUsage(userId, day, 0, 0, 0, 0, 0, 0);
    }

    /// <summary>
    /// The user's rows from <paramref name="from"/> to <paramref name="to"/>: the store's plus what is pending,
    /// read between flushes so nothing is missed or counted twice. Oldest first; days without usage are absent.
    /// </summary>
    public async Task<IReadOnlyList<UserDayUsage>> ReadUserAsync(IUserUsageStore store, string userId, DateOnly from, DateOnly to, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(userId);
        await _flushGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var stored = await store.ReadUserAsync(userId, from, to, cancellationToken).ConfigureAwait(false);
            var days = new SortedDictionary<DateOnly, UserDayUsage>();
            foreach (var row in stored)
            {
                days[row.Day] = row;
            }
            foreach (var pending in PendingOf(userId, from, to))
            {
                days[pending.Day] = days.TryGetValue(pending.Day, out var row) ? UserUsageSums.Add(row, pending) : pending;
            }
            return days.Values.Where(d => !UserUsageSums.IsZero(d)).ToList();
        }
        finally
        {
            _flushGate.Release();
        }
    }

    /// <summary>
    /// Writes what was recorded since the last flush: one store transaction per <see cref="ChunkRows"/> rows (one in
    /// the steady state). If the store fails, the rows of the failed chunk and after are put back (past the cap: they
    /// were already held), so nothing is lost and nothing is written twice. Returns the rows written.
    /// </summary>
    public async Task<int> FlushAsync(IUserUsageStore store, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        await _flushGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await FlushHeldAsync(store, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _flushGate.Release();
        }
    }

    /// <summary>
    /// The <paramref name="count"/> heaviest users of <paramref name="day"/>, exact: what is pending is flushed
    /// first (a ranking cannot be patched with pending rows of users the store did not rank).
    /// </summary>
    public async Task<IReadOnlyList<UserDayUsage>> TopAsync(IUserUsageStore store, DateOnly day, UserUsageOrder by, int count, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        await _flushGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await FlushHeldAsync(store, cancellationToken).ConfigureAwait(false);
            return await store.TopAsync(day, by, count, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _flushGate.Release();
        }
    }

    private async Task<int> FlushHeldAsync(IUserUsageStore store, CancellationToken cancellationToken)
    {
        var batch = Drain();
        if (batch.Count <= ChunkRows)
        {
            if (batch.Count > 0)
            {
                await WriteAsync(store, batch, 0, batch.Count, cancellationToken).ConfigureAwait(false);
            }
            return batch.Count;
        }
        // A backlog (millions of users after an outage) goes in key order and in chunks, each its own transaction:
        // other writers of the store (sign-ups on SQLite) get a turn between chunks, and each chunk touches a
        // contiguous key range, so the B-tree's pages are written about once in all.
        batch.Sort(static (a, b) =>
            string.CompareOrdinal(a.UserId, b.UserId) is var byUser and not 0 ? byUser : a.Day.CompareTo(b.Day));
        for (var start = 0; start < batch.Count; start += ChunkRows)
        {
            await WriteAsync(store, batch, start, Math.Min(ChunkRows, batch.Count - start), cancellationToken).ConfigureAwait(false);
        }
        return batch.Count;
    }

    /// <summary>Writes rows [start, start + count); if the store fails, they and every later row are put back (earlier chunks are committed).</summary>
    private async Task WriteAsync(IUserUsageStore store, List<UserDayUsage> batch, int start, int count, CancellationToken cancellationToken)
    {
        try
        {
            await store.AddAsync(start == 0 && count == batch.Count ? batch : batch.GetRange(start, count), cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            for (var i = start; i < batch.Count; i++)
            {
                Add(batch[i], capped: false);
            }
            throw;
        }
    }

    private IEnumerable<UserDayUsage> PendingOf(string userId, DateOnly from, DateOnly to)
    {
        if (to.DayNumber - from.DayNumber < 400)
        {
            // A few look-ups rather than a walk over every pending row (millions while the store is down).
            for (var day = from; day <= to; day = day.AddDays(1))
            {
                if (_pending.TryGetValue(new Key(userId, day), out var counters))
                {
                    yield return counters.Read(userId, day);
                }
            }
            yield break;
        }
        foreach (var (key, counters) in _pending)
        {
            if (key.Day >= from && key.Day <= to && string.Equals(key.UserId, userId, StringComparison.Ordinal))
            {
                yield return counters.Read(userId, key.Day);
            }
        }
    }

    private List<UserDayUsage> Drain()
    {
        var batch = new List<UserDayUsage>();
        foreach (var (key, counters) in _pending)
        {
            if (counters.HasPending)
            {
                batch.Add(counters.Drain(key.UserId, key.Day));
                continue;
            }
            // Idle for a whole interval: out of the table. Retire first, then drain what a writer added
            // since the check; a writer adding after the drain sees the mark and moves its counts itself.
            counters.Retire();
            if (_pending.TryRemove(new KeyValuePair<Key, UserUsageCounters>(key, counters)))
            {
                Interlocked.Decrement(ref _rows);
            }
            var late = counters.Drain(key.UserId, key.Day);
            if (!UserUsageSums.IsZero(late))
            {
                batch.Add(late);
            }
        }
        return batch;
    }

    private void Add(UserDayUsage usage, bool capped)
    {
        var key = new Key(usage.UserId, usage.Day);
        while (true)
        {
            if (Live(key, capped) is not { } counters)
            {
                Interlocked.Add(ref _droppedRequests, usage.Requests);
                Interlocked.Add(ref _droppedTokens, usage.TotalTokens);
                return;
            }
            counters.Add(usage);
            if (!counters.IsRetired)
            {
                return; // the flush that retires it drains after marking, so it takes these counts
            }
            // Retired under us: whatever is still in it (ours or another late writer's) goes to a live entry.
            usage = counters.Drain(key.UserId, key.Day);
            if (UserUsageSums.IsZero(usage))
            {
                return;
            }
        }
    }

    private UserUsageCounters? Live(Key key, bool capped)
    {
        while (true)
        {
            if (_pending.TryGetValue(key, out var found))
            {
                if (!found.IsRetired)
                {
                    return found;
                }
                // Retired but not yet removed: replace it, so the flush's conditional remove leaves the new one.
                var replacement = new UserUsageCounters();
                if (_pending.TryUpdate(key, replacement, found))
                {
                    return replacement;
                }
                continue;
            }
            if (capped && Volatile.Read(ref _rows) >= MaxPendingRows)
            {
                return null;
            }
            var created = new UserUsageCounters();
            if (_pending.TryAdd(key, created))
            {
                Interlocked.Increment(ref _rows);
                return created;
            }
        }
    }

    private readonly record struct Key(string UserId, DateOnly Day);
}
