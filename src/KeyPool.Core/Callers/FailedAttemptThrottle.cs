namespace KeyPool.Core.Callers;

/// <summary>
/// Slows down guessing: after <c>freeFailures</c> failed attempts from one source within
/// <c>window</c>, each further attempt must wait an exponentially growing delay (1 s, 2 s, 4 s, …
/// capped at <c>maxDelay</c>) after the last failure. Successes are not its business: failures are
/// forgotten <c>window</c> after the last one. Sources are
/// held in a fixed-size least-recently-used map, so a flood of addresses costs bounded memory.
/// </summary>
public sealed class FailedAttemptThrottle
{
    private static readonly TimeSpan BaseDelay = TimeSpan.FromSeconds(1);

    private readonly int _freeFailures;
    private readonly TimeSpan _window;
    private readonly TimeSpan _maxDelay;
    private readonly int _capacity;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, LinkedListNode<Source>> _sources = new(StringComparer.Ordinal);
    private readonly LinkedList<Source> _recent = new(); // most recently failed first
    private int _remembered; // _sources.Count, readable without the lock

    /// <summary>Creates a throttle.</summary>
    /// <param name="freeFailures">Failures allowed without delay (at least 1).</param>
    /// <param name="window">A source's failures are forgotten this long after its last one.</param>
    /// <param name="maxDelay">The longest delay imposed between attempts.</param>
    /// <param name="capacity">Sources remembered at most; the least recently failed is forgotten first.</param>
    /// <param name="time">The clock.</param>
    public FailedAttemptThrottle(int freeFailures, TimeSpan window, TimeSpan maxDelay, int capacity, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(freeFailures, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(window, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxDelay, BaseDelay);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentNullException.ThrowIfNull(time);
        (_freeFailures, _window, _maxDelay, _capacity, _time) = (freeFailures, window, maxDelay, capacity, time);
    }

    /// <summary>Whether any source has failed lately: a lock-free check so busy paths skip the throttle entirely while nobody fails.</summary>
    public bool Any => Volatile.Read(ref _remembered) > 0;

    /// <summary>Sources currently remembered.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _sources.Count;
            }
        }
    }

    /// <summary>How long <paramref name="source"/> must still wait before its next attempt; zero when it may try now.</summary>
    public TimeSpan RetryAfter(string source)
    {
        var now = _time.GetUtcNow();
        lock (_lock)
        {
            if (!_sources.TryGetValue(source, out var node))
            {
                return TimeSpan.Zero;
            }
            var wait = node.Value.BlockedUntil - now;
            return wait > TimeSpan.Zero ? wait : TimeSpan.Zero;
        }
    }

    /// <summary>Counts a failed attempt and returns the wait now imposed on the source (zero while its failures are free).</summary>
    public TimeSpan RecordFailure(string source)
    {
        ArgumentNullException.ThrowIfNull(source);
        var now = _time.GetUtcNow();
        lock (_lock)
        {
            if (_sources.TryGetValue(source, out var node))
            {
                _recent.Remove(node);
                if (now - node.Value.LastFailure > _window)
                {
                    node.Value.Failures = 0;
                }
            }
            else
            {
                if (_sources.Count >= _capacity)
                {
                    var oldest = _recent.Last!;
                    _recent.RemoveLast();
                    _sources.Remove(oldest.Value.Key);
                }
                node = new LinkedListNode<Source>(new Source(source));
                _sources[source] = node;
            }
            _recent.AddFirst(node);
            Volatile.Write(ref _remembered, _sources.Count);
            var entry = node.Value;
            entry.Failures++;
            entry.LastFailure = now;
            var delay = DelayAfter(entry.Failures);
            entry.BlockedUntil = now + delay;
            return delay;
        }
    }

    private TimeSpan DelayAfter(int failures)
    {
        var over = failures - _freeFailures;
        if (over <= 0)
        {
            return TimeSpan.Zero;
        }
        // 2^30 s is far past any sane cap; stopping the exponent there avoids overflow.
        var seconds = BaseDelay.TotalSeconds * Math.Pow(2, Math.Min(over - 1, 30));
        return TimeSpan.FromSeconds(Math.Min(seconds, _maxDelay.TotalSeconds));
    }

    private sealed class Source(string key)
    {
        public string Key { get; } = key;

        public int Failures { get; set; }

        public DateTimeOffset LastFailure { get; set; }

        public DateTimeOffset BlockedUntil { get; set; }
    }
}
