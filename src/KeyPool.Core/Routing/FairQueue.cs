using KeyPool.Core.Fairness;

namespace KeyPool.Core.Routing;

/// <summary>
/// Requests waiting for capacity, admitted fairly rather than first come, first served. Budgets free at second
/// boundaries, so one timer wakes the line at each boundary and tries the waiters in order of their user's recent
/// usage, least first (ties: first come): the freed budget goes to the users who had least of it, and a heavy
/// user's waiters get what is left. A waiter whose deadline comes before the next boundary is refused then, never
/// later than its deadline. When the line is full, a newcomer lighter than the heaviest waiter takes its place.
/// The line is the overload path: it takes one lock, held while a boundary is dispatched.
/// </summary>
internal sealed class FairQueue(KeyPoolRouter router, FairShare fairness, RoutingOptions options, TimeProvider time)
{
    private static readonly TimeSpan OneSecond = TimeSpan.FromSeconds(1);

    private readonly Lock _lock = new();
    private readonly List<Waiter> _waiters = [];
    private ITimer? _timer;
    private DateTimeOffset _armedFor = DateTimeOffset.MinValue;
    private long _sequence;

    /// <summary>Requests waiting now.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _waiters.Count;
            }
        }
    }

    /// <summary>Waits for a second boundary at which the request is admitted; null when its deadline comes first or a lighter user takes its place.</summary>
    /// <remarks>A <paramref name="team"/> pins the request to that team's keys (a stored object's follow-up).</remarks>
    public Task<Admission?> WaitAsync(PoolSnapshot pool, int userGroup, int modelId, long tokens, int excludeGroup, string? userId, CancellationToken cancellationToken, string? team = null)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var now = time.GetUtcNow();
        var boundary = NextBoundary(now);
        var deadline = now + options.MaxQueueWait;
        if (boundary > deadline)
        {
            return Task.FromResult(router.Refuse(pool, userGroup)); // nothing frees before the deadline
        }
        var waiter = new Waiter(pool, userGroup, modelId, tokens, excludeGroup, userId, userId is null ? 0 : FairShare.Hash(userId), deadline) { Team = team };
        Waiter? displaced = null;
        lock (_lock)
        {
            if (_waiters.Count >= options.MaxQueueLength)
            {
                displaced = Heaviest(router.Second);
                if (displaced is null || Usage(waiter, router.Second) >= displaced.Usage)
                {
                    displaced = null;
                    waiter = null;
                }
                else
                {
                    _waiters.Remove(displaced);
                    Finish(displaced, router.Refuse(displaced.Pool, displaced.UserGroup));
                }
            }
            if (waiter is not null)
            {
                waiter.Sequence = _sequence++;
                _waiters.Add(waiter);
                Arm(now, boundary);
            }
        }
        if (waiter is null)
        {
            return Task.FromResult(router.Refuse(pool, userGroup));
        }
        if (cancellationToken.CanBeCanceled)
        {
            var registration = cancellationToken.Register(() => Cancel(waiter, cancellationToken));
            lock (_lock)
            {
                if (waiter.Done.Task.IsCompleted)
                {
                    registration.Unregister();
                }
                else
                {
                    waiter.Registration = registration;
                }
            }
        }
        return waiter.Done.Task;
    }

    private void Dispatch()
    {
        lock (_lock)
        {
            var now = time.GetUtcNow();
            _armedFor = DateTimeOffset.MinValue;
            var second = router.Second;
            foreach (var waiter in _waiters)
            {
                waiter.Usage = Usage(waiter, second);
            }
            _waiters.Sort(static (a, b) => a.Usage != b.Usage ? a.Usage.CompareTo(b.Usage) : a.Sequence.CompareTo(b.Sequence));
            var next = NextBoundary(now);
            var kept = 0;
            for (var i = 0; i < _waiters.Count; i++)
            {
                var waiter = _waiters[i];
                if (router.TryAdmit(waiter.Pool, waiter.UserGroup, waiter.ModelId, waiter.Tokens, waiter.ExcludeGroup, waiter.UserId, waiter.Team) is { } admission)
                {
                    Finish(waiter, admission);
                }
                else if (waiter.Deadline < next)
                {
                    Finish(waiter, router.Refuse(waiter.Pool, waiter.UserGroup));
                }
                else
                {
                    _waiters[kept++] = waiter;
                }
            }
            _waiters.RemoveRange(kept, _waiters.Count - kept);
            if (kept > 0)
            {
                Arm(now, next);
            }
        }
    }

    private void Cancel(Waiter waiter, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_waiters.Remove(waiter))
            {
                waiter.Done.TrySetCanceled(cancellationToken);
            }
        }
    }

    private static void Finish(Waiter waiter, Admission? admission)
    {
        waiter.Done.TrySetResult(admission);
        waiter.Registration.Unregister(); // not Dispose: it would wait for a cancellation blocked on the lock held here
    }

    private Waiter? Heaviest(long second)
    {
        Waiter? heaviest = null;
        foreach (var waiter in _waiters)
        {
            waiter.Usage = Usage(waiter, second);
            if (heaviest is null || waiter.Usage > heaviest.Usage)
            {
                heaviest = waiter;
            }
        }
        return heaviest;
    }

    // Requests of no user (model lists) are light: they go first.
    private double Usage(Waiter waiter, long second) => waiter.UserId is null ? 0 : fairness.Usage.Of(waiter.Hash, second);

    private void Arm(DateTimeOffset now, DateTimeOffset boundary)
    {
        if (_armedFor == boundary)
        {
            return;
        }
        _armedFor = boundary;
        _timer ??= time.CreateTimer(static state => ((FairQueue)state!).Dispatch(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _timer.Change(boundary - now, Timeout.InfiniteTimeSpan);
    }

    private static DateTimeOffset NextBoundary(DateTimeOffset now) => DateTimeOffset.FromUnixTimeSeconds(now.ToUnixTimeSeconds()) + OneSecond;

    private sealed class Waiter(PoolSnapshot pool, int userGroup, int modelId, long tokens, int excludeGroup, string? userId, int hash, DateTimeOffset deadline)
    {
        public PoolSnapshot Pool { get; } = pool;
        public int UserGroup { get; } = userGroup;
        public int ModelId { get; } = modelId;
        public long Tokens { get; } = tokens;
        public int ExcludeGroup { get; } = excludeGroup;
        public string? UserId { get; } = userId;
        public int Hash { get; } = hash;
        public DateTimeOffset Deadline { get; } = deadline;
        public string? Team { get; init; }
        public long Sequence { get; set; }
        public double Usage { get; set; }
        public CancellationTokenRegistration Registration { get; set; }
        public TaskCompletionSource<Admission?> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
