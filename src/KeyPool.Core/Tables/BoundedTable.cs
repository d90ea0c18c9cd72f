using System.Buffers;
using System.Collections.Concurrent;

namespace KeyPool.Core.Tables;

/// <summary>
/// A concurrent dictionary that never holds more than its capacity, with one eviction scheme: each entry
/// remembers when it was last used, and a sweep drops entries unused for <c>idleAfter</c> and, above the
/// capacity, the least recently used down to 90 % of it. The insert that passes the capacity sweeps at once
/// (so the bound is hard); a lookup that hits only writes its timestamp and never allocates. An owner that
/// must keep some entries (a reservation in flight) says so through <see cref="Retire"/>.
/// </summary>
/// <typeparam name="TKey">The key.</typeparam>
/// <typeparam name="TValue">The value; held by reference.</typeparam>
internal sealed class BoundedTable<TKey, TValue>
    where TKey : notnull
    where TValue : class
{
    private const int KeepPercent = 90;

    private readonly ConcurrentDictionary<TKey, Slot> _entries;
    private readonly int _capacity;
    private readonly long _idleTicks;
    private readonly TimeProvider _time;
    private readonly Lock _sweepLock = new();
    private int _count;

    /// <summary>Creates a table of at most <paramref name="capacity"/> entries (at least 2).</summary>
    /// <param name="capacity">The hard cap.</param>
    /// <param name="time">The clock of the last-use times.</param>
    /// <param name="idleAfter">Entries unused this long leave at the next sweep; null: only the capacity evicts.</param>
    /// <param name="comparer">Compares keys, or null for the default.</param>
    public BoundedTable(int capacity, TimeProvider time, TimeSpan? idleAfter = null, IEqualityComparer<TKey>? comparer = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 2);
        _time = time ?? throw new ArgumentNullException(nameof(time));
        _capacity = capacity;
        _idleTicks = idleAfter is { } idle ? (long)(idle.TotalSeconds * time.TimestampFrequency) : long.MaxValue;
        _entries = new ConcurrentDictionary<TKey, Slot>(Environment.ProcessorCount, Math.Min(capacity, 1 << 12), comparer);
    }

    /// <summary>
    /// Asked by a sweep before an entry leaves (under no lock of the table): false keeps it. The owner may mark the
    /// value as gone here, under its own lock, so a caller holding it sees that and looks it up again.
    /// </summary>
    public Func<TValue, EvictionCause, bool>? Retire { get; init; }

    /// <summary>Entries held now (exact after a sweep; between sweeps concurrent changes may skew it briefly).</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>The most entries held.</summary>
    public int Capacity => _capacity;

    /// <summary>The value of <paramref name="key"/>, marking it used; never allocates.</summary>
    public bool TryGet(TKey key, out TValue value)
    {
        if (_entries.TryGetValue(key, out var slot))
        {
            slot.Touch(_time.GetTimestamp());
            value = slot.Value;
            return true;
        }
        value = null!;
        return false;
    }

    /// <summary>The value of <paramref name="key"/>, made by <paramref name="create"/> when absent (allocates only then).</summary>
    public TValue GetOrAdd<TArg>(TKey key, Func<TKey, TArg, TValue> create, TArg arg)
    {
        ArgumentNullException.ThrowIfNull(create);
        while (true)
        {
            if (TryGet(key, out var found))
            {
                return found;
            }
            var slot = new Slot(create(key, arg), _time.GetTimestamp());
            if (_entries.TryAdd(key, slot))
            {
                Added(slot);
                return slot.Value;
            }
        }
    }

    /// <summary>Adds or replaces the value of <paramref name="key"/>.</summary>
    public void Set(TKey key, TValue value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var now = _time.GetTimestamp();
        while (true)
        {
            if (_entries.TryGetValue(key, out var slot))
            {
                slot.Value = value;
                slot.Touch(now);
                return;
            }
            var created = new Slot(value, now);
            if (_entries.TryAdd(key, created))
            {
                Added(created);
                return;
            }
        }
    }

    /// <summary>Forgets <paramref name="key"/>.</summary>
    public bool Remove(TKey key)
    {
        if (_entries.TryRemove(key, out _))
        {
            Interlocked.Decrement(ref _count);
            return true;
        }
        return false;
    }

    /// <summary>Forgets <paramref name="key"/> only while it still holds <paramref name="value"/>.</summary>
    public bool Remove(TKey key, TValue value)
    {
        if (_entries.TryGetValue(key, out var slot) && ReferenceEquals(slot.Value, value)
            && _entries.TryRemove(new KeyValuePair<TKey, Slot>(key, slot)))
        {
            Interlocked.Decrement(ref _count);
            return true;
        }
        return false;
    }

    /// <summary>Forgets everything.</summary>
    public void Clear()
    {
        lock (_sweepLock)
        {
            _entries.Clear();
            Volatile.Write(ref _count, _entries.Count);
        }
    }

    /// <summary>
    /// Drops the entries unused for the idle time, then above the capacity the least recently used down to 90 %
    /// of it; <see cref="Retire"/> may keep any. Returns the entries dropped.
    /// </summary>
    public int Sweep() => Sweep(keep: null);

    private void Added(Slot slot)
    {
        if (Interlocked.Increment(ref _count) > _capacity && _sweepLock.TryEnter())
        {
            // Another thread sweeping already will bring the count down: this insert does not wait for it.
            try
            {
                SweepLocked(keep: slot);
            }
            finally
            {
                _sweepLock.Exit();
            }
        }
    }

    private int Sweep(Slot? keep)
    {
        lock (_sweepLock)
        {
            return SweepLocked(keep);
        }
    }

    private int SweepLocked(Slot? keep)
    {
        var now = _time.GetTimestamp();
        var dropped = 0;
        if (_idleTicks != long.MaxValue)
        {
            foreach (var (key, slot) in _entries)
            {
                if (now - slot.LastUsed >= _idleTicks && !ReferenceEquals(slot, keep) && Drop(key, slot, EvictionCause.Idle))
                {
                    dropped++;
                }
            }
        }
        Volatile.Write(ref _count, _entries.Count); // exact again (the dictionary's Count takes every lock: only here)
        var excess = Count - (int)((long)_capacity * KeepPercent / 100);
        if (excess > 0)
        {
            dropped += DropLeastRecent(excess, keep);
        }
        return dropped;
    }

    // Rare (once per tenth of the capacity of new entries), so a sort of the last-use times will do.
    private int DropLeastRecent(int excess, Slot? keep)
    {
        var times = ArrayPool<long>.Shared.Rent(Math.Max(1, _count + 64));
        try
        {
            var n = 0;
            foreach (var (_, slot) in _entries)
            {
                if (n == times.Length)
                {
                    break; // grown meanwhile: the cut-off of those seen will do
                }
                times[n++] = slot.LastUsed;
            }
            if (n == 0)
            {
                return 0;
            }
            Array.Sort(times, 0, n);
            var cutoff = times[Math.Min(excess, n) - 1];
            var dropped = 0;
            foreach (var (key, slot) in _entries)
            {
                if (dropped >= excess)
                {
                    break;
                }
                if (slot.LastUsed <= cutoff && !ReferenceEquals(slot, keep) && Drop(key, slot, EvictionCause.OverCapacity))
                {
                    dropped++;
                }
            }
            return dropped;
        }
        finally
        {
            ArrayPool<long>.Shared.Return(times);
        }
    }

    private bool Drop(TKey key, Slot slot, EvictionCause cause)
    {
        if (Retire is { } retire && !retire(slot.Value, cause))
        {
            return false;
        }
        if (!_entries.TryRemove(new KeyValuePair<TKey, Slot>(key, slot)))
        {
            return false; // replaced or removed meanwhile
        }
        Interlocked.Decrement(ref _count);
        return true;
    }

    // One entry: the value and when it was last used (a timestamp of the table's clock).
    private sealed class Slot(TValue value, long now)
    {
        private long _lastUsed = now;

        public TValue Value = value;

        public long LastUsed => Volatile.Read(ref _lastUsed);

        // Written only when it changes: a hit on an entry used in the same tick dirties no cache line.
        public void Touch(long now)
        {
            if (Volatile.Read(ref _lastUsed) < now)
            {
                Volatile.Write(ref _lastUsed, now);
            }
        }
    }
}

/// <summary>Why a <see cref="BoundedTable{TKey, TValue}"/> sweep wants an entry to leave.</summary>
internal enum EvictionCause
{
    /// <summary>Unused for the table's idle time.</summary>
    Idle,

    /// <summary>The table is above its capacity and this entry is among the least recently used.</summary>
    OverCapacity,
}
