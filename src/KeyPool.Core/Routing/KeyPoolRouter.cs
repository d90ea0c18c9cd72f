using KeyPool.Core.Budgets;
using KeyPool.Core.KeyHealth;
using KeyPool.Core.Keys;

namespace KeyPool.Core.Routing;

/// <summary>
/// Admits requests to keys: the configured policy picks and reserves; when no key has budget the
/// request waits (bounded in time and in number of waiters) for the next second's capacity.
/// Holds the current <see cref="PoolSnapshot"/>, replaced whole when keys or teams change.
/// </summary>
public sealed class KeyPoolRouter
{
    private readonly RoutingOptions _options;
    private readonly BudgetOptions _budgets;
    private readonly KeyHealthOptions _health;
    private readonly TimeProvider _time;
    private volatile PoolSnapshot _pool;
    private int _waiting;
    private long _rejected;

    /// <summary>Creates a router over <paramref name="ring"/>.</summary>
    public KeyPoolRouter(
        KeyRing ring,
        IKeySelectionPolicy policy,
        RoutingOptions options,
        BudgetOptions budgets,
        KeyHealthOptions health,
        IReadOnlyDictionary<int, GroupSettings> groups,
        TimeProvider time)
    {
        Policy = policy ?? throw new ArgumentNullException(nameof(policy));
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _budgets = budgets ?? throw new ArgumentNullException(nameof(budgets));
        _health = health ?? throw new ArgumentNullException(nameof(health));
        _time = time ?? throw new ArgumentNullException(nameof(time));
        Groups = groups ?? throw new ArgumentNullException(nameof(groups));
        _pool = PoolSnapshot.Build(ring, groups, new Dictionary<int, string>(), budgets, health, time);
    }

    /// <summary>The policy in use.</summary>
    public IKeySelectionPolicy Policy { get; }

    /// <summary>The per-group settings.</summary>
    public IReadOnlyDictionary<int, GroupSettings> Groups { get; }

    /// <summary>The pool now.</summary>
    public PoolSnapshot Pool => _pool;

    /// <summary>Requests refused for lack of capacity anywhere.</summary>
    public long Rejected => Volatile.Read(ref _rejected);

    /// <summary>The current Unix second, the unit of every budget.</summary>
    public long Second => _time.GetUtcNow().ToUnixTimeSeconds();

    /// <summary>Replaces the pool (new keys, or teams learned from the upstream), keeping what carries over.</summary>
    public void Load(KeyRing ring, IReadOnlyDictionary<int, string> discoveredTeams) =>
        _pool = PoolSnapshot.Build(ring, Groups, discoveredTeams, _budgets, _health, _time, _pool);

    /// <summary>Admits without waiting; null when no key can take the request now.</summary>
    public Admission? TryAdmit(int userGroup, int modelId, long tokens, int excludeGroup = 0) =>
        Policy.Select(_pool, new SelectionRequest(userGroup, modelId, tokens, Second, excludeGroup));

    /// <summary>Admits, waiting up to <see cref="RoutingOptions.MaxQueueWait"/> for capacity; null when none came.</summary>
    public ValueTask<Admission?> AdmitAsync(int userGroup, int modelId, long tokens, int excludeGroup, CancellationToken cancellationToken)
    {
        var admission = TryAdmit(userGroup, modelId, tokens, excludeGroup);
        return admission is not null
            ? ValueTask.FromResult(admission)
            : new ValueTask<Admission?>(WaitAsync(userGroup, modelId, tokens, excludeGroup, cancellationToken));
    }

    /// <summary>Seconds a refused caller should wait: until the soonest budget frees.</summary>
    public int RetryAfterSeconds(int modelId)
    {
        var pool = _pool;
        var second = Second;
        var best = 60;
        foreach (var member in pool.Members)
        {
            if (member.Health.State is KeyState.Active)
            {
                best = Math.Min(best, pool.Window(member, modelId).SecondsUntilFree(second));
            }
        }
        return Math.Max(1, best);
    }

    private async Task<Admission?> WaitAsync(int userGroup, int modelId, long tokens, int excludeGroup, CancellationToken cancellationToken)
    {
        if (_options.MaxQueueWait <= TimeSpan.Zero || Interlocked.Increment(ref _waiting) > _options.MaxQueueLength)
        {
            if (_options.MaxQueueWait > TimeSpan.Zero)
            {
                Interlocked.Decrement(ref _waiting);
            }
            return Reject(userGroup);
        }
        try
        {
            var deadline = _time.GetUtcNow() + _options.MaxQueueWait;
            while (true)
            {
                // Budgets free at second boundaries: wake at the next one (or the deadline).
                var now = _time.GetUtcNow();
                var nextSecond = DateTimeOffset.FromUnixTimeSeconds(now.ToUnixTimeSeconds() + 1);
                var wake = nextSecond < deadline ? nextSecond : deadline;
                if (wake <= now)
                {
                    return Reject(userGroup);
                }
                await Task.Delay(wake - now, _time, cancellationToken).ConfigureAwait(false);
                if (TryAdmit(userGroup, modelId, tokens, excludeGroup) is { } admission)
                {
                    return admission;
                }
                if (_time.GetUtcNow() >= deadline)
                {
                    return Reject(userGroup);
                }
            }
        }
        finally
        {
            Interlocked.Decrement(ref _waiting);
        }
    }

    private Admission? Reject(int userGroup)
    {
        Interlocked.Increment(ref _rejected);
        _pool.Find(userGroup)?.CountRejection();
        return null;
    }
}
