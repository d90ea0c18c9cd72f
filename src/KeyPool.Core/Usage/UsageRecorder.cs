namespace KeyPool.Core.Usage;

/// <summary>
/// Aggregates usage per key group in memory, off the database: the request path only
/// adds to counters; <see cref="FlushAsync"/> moves the pending part to the store in one batch.
/// Totals (store + everything since) are always readable without touching the store.
/// </summary>
public sealed class UsageRecorder
{
    private readonly TimeProvider _time;
    private readonly Lock _growLock = new();
    // Indexed by group; replaced (never mutated in place) when a higher group appears.
    private UsageCounters?[] _pending = [];
    private UsageCounters?[] _totals = [];

    /// <summary>Creates an empty recorder.</summary>
    public UsageRecorder(TimeProvider timeProvider)
    {
        _time = timeProvider ?? throw new ArgumentNullException(nameof(timeProvider));
    }

    /// <summary>Seeds the totals with what the store already holds (call once at start).</summary>
    public void LoadTotals(IEnumerable<KeyGroupUsage> stored)
    {
        ArgumentNullException.ThrowIfNull(stored);
        foreach (var usage in stored)
        {
            Slot(ref _totals, usage.Group).Add(usage);
        }
    }

    /// <summary>Counts one request. Allocation-free once the group has been seen.</summary>
    public void Record(in UsageSample sample)
    {
        var now = _time.GetUtcNow().UtcTicks;
        Slot(ref _pending, sample.Group).Add(sample, now);
        Slot(ref _totals, sample.Group).Add(sample, now);
    }

    /// <summary>
    /// The totals of <paramref name="group"/>: what <see cref="LoadTotals"/> seeded plus everything this recorder counted.
    /// The gateway seeds nothing, so these are this instance's counts since it started (the pool's are PoolTotals').
    /// </summary>
    public KeyGroupUsage Totals(int group)
    {
        var totals = Volatile.Read(ref _totals);
        return (uint)group < (uint)totals.Length && totals[group] is { } counters ? counters.Read() : KeyGroupUsage.Zero(group);
    }

    /// <summary>What was recorded for <paramref name="group"/> and not yet handed to the store.</summary>
    public KeyGroupUsage Pending(int group)
    {
        var pending = Volatile.Read(ref _pending);
        return (uint)group < (uint)pending.Length && pending[group] is { } counters ? counters.Read() : KeyGroupUsage.Zero(group);
    }

    /// <summary>
    /// Writes what was recorded since the last flush. If the store fails, the drained counts
    /// are put back, so nothing is lost and nothing is written twice.
    /// </summary>
    public async Task<int> FlushAsync(IUsageStore store, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        var pending = Volatile.Read(ref _pending);
        var deltas = new List<KeyGroupUsage>();
        foreach (var counters in pending)
        {
            if (counters is not null && counters.HasPending)
            {
                deltas.Add(counters.Drain());
            }
        }
        if (deltas.Count == 0)
        {
            return 0;
        }
        try
        {
            await store.AddAsync(deltas, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            foreach (var delta in deltas)
            {
                Slot(ref _pending, delta.Group).Add(delta);
            }
            throw;
        }
        return deltas.Count;
    }

    private UsageCounters Slot(ref UsageCounters?[] slots, int group)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(group);
        var current = Volatile.Read(ref slots);
        if ((uint)group < (uint)current.Length && current[group] is { } found)
        {
            return found;
        }
        lock (_growLock)
        {
            current = slots;
            if (group >= current.Length)
            {
                Array.Resize(ref current, Math.Max(group + 1, current.Length * 2));
            }
            else
            {
                current = (UsageCounters?[])current.Clone();
            }
            var counters = current[group] ??= new UsageCounters(group);
            Volatile.Write(ref slots, current);
            return counters;
        }
    }
}
