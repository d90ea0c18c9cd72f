using KeyPool.Core.Budgets;
using KeyPool.Core.Capacity;
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
    private readonly Lock _loadLock = new();
    private volatile PoolSnapshot _pool;
    private IReadOnlyDictionary<int, GroupSettings> _groups;
    private IReadOnlyDictionary<int, string> _teams = new Dictionary<int, string>();
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
        _groups = groups ?? throw new ArgumentNullException(nameof(groups));
        _pool = PoolSnapshot.Build(ring, groups, _teams, budgets, health, time);
    }

    /// <summary>The policy in use.</summary>
    public IKeySelectionPolicy Policy { get; }

    /// <summary>The per-group settings in force.</summary>
    public IReadOnlyDictionary<int, GroupSettings> Groups => _groups;

    /// <summary>The pool now.</summary>
    public PoolSnapshot Pool => _pool;

    /// <summary>Requests refused for lack of capacity anywhere.</summary>
    public long Rejected => Volatile.Read(ref _rejected);

    /// <summary>Admitted and refused requests over the last minutes (stickiness, goodput).</summary>
    public RouteStats Stats { get; } = new();

    /// <summary>Demand per minute (requests, active users, tokens) over the last hour.</summary>
    public DemandMeter Demand { get; } = new();

    /// <summary>The slots promised to refused users through <c>Retry-After</c>.</summary>
    public RetryPromises Promises { get; } = new();

    /// <summary>The current Unix second, the unit of every budget.</summary>
    public long Second => _time.GetUtcNow().ToUnixTimeSeconds();

    /// <summary>
    /// Replaces the pool (keys added or removed, teams learned from the upstream, new per-group settings),
    /// keeping the health and spent budgets of what did not change. Requests already admitted keep their key.
    /// </summary>
    /// <param name="ring">The keys from now on.</param>
    /// <param name="discoveredTeams">Teams the upstream reported, by group; merged with those known (a replaced key forgets its team).</param>
    /// <param name="groups">New per-group settings, or null to keep the current ones.</param>
    public void Load(KeyRing ring, IReadOnlyDictionary<int, string>? discoveredTeams = null, IReadOnlyDictionary<int, GroupSettings>? groups = null)
    {
        ArgumentNullException.ThrowIfNull(ring);
        lock (_loadLock)
        {
            var current = _pool;
            var teams = _teams
                .Where(t => ring.Find(t.Key) is { } key && current.Find(t.Key)?.Key.Secret == key.Secret)
                .ToDictionary(t => t.Key, t => t.Value);
            foreach (var (group, team) in discoveredTeams ?? new Dictionary<int, string>())
            {
                teams[group] = team;
            }
            _teams = teams;
            _groups = groups ?? _groups;
            _pool = PoolSnapshot.Build(ring, _groups, teams, _budgets, _health, _time, current);
        }
    }

    /// <summary>Admits without waiting; null when no key can take the request now.</summary>
    public Admission? TryAdmit(int userGroup, int modelId, long tokens, int excludeGroup = 0) => TryAdmit(userGroup, modelId, tokens, excludeGroup, null);

    /// <summary>Admits without waiting; null when no key can take the request now (or its turn has not come: see <see cref="RetryPromises"/>).</summary>
    public Admission? TryAdmit(int userGroup, int modelId, long tokens, int excludeGroup, string? userId)
    {
        var request = new SelectionRequest(userGroup, modelId, tokens, Second, excludeGroup);
        var admission = userId is not null && Promises.Outstanding > 0
            ? Promises.Admit(_pool, Policy, request, userId)
            : Policy.Select(_pool, request);
        if (admission is { } admitted)
        {
            Stats.Admitted(request.Second, userGroup == 0 || admitted.Member.Group == userGroup);
            Demand.Record(request.Second, userId, _pool);
        }
        return admission;
    }

    /// <summary>Admits, waiting up to <see cref="RoutingOptions.MaxQueueWait"/> for capacity; null when none came.</summary>
    public ValueTask<Admission?> AdmitAsync(int userGroup, int modelId, long tokens, int excludeGroup, CancellationToken cancellationToken) =>
        AdmitAsync(userGroup, modelId, tokens, excludeGroup, null, cancellationToken);

    /// <summary>Admits <paramref name="userId"/>'s request, waiting up to <see cref="RoutingOptions.MaxQueueWait"/> for capacity; null when none came.</summary>
    public ValueTask<Admission?> AdmitAsync(int userGroup, int modelId, long tokens, int excludeGroup, string? userId, CancellationToken cancellationToken)
    {
        var admission = TryAdmit(userGroup, modelId, tokens, excludeGroup, userId);
        return admission is not null
            ? ValueTask.FromResult(admission)
            : new ValueTask<Admission?>(WaitAsync(userGroup, modelId, tokens, excludeGroup, userId, cancellationToken));
    }

    /// <summary>
    /// Seconds a refused user should wait: the slot promised to them (<see cref="RetryPromises"/>), else
    /// until the soonest budget frees.
    /// </summary>
    public int RetryAfterSeconds(int modelId, string? userId)
    {
        if (userId is not null)
        {
            var promised = Promises.Promise(_pool, modelId, userId, Second);
            if (promised is { } seconds)
            {
                return seconds;
            }
        }
        return RetryAfterSeconds(modelId);
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

    private async Task<Admission?> WaitAsync(int userGroup, int modelId, long tokens, int excludeGroup, string? userId, CancellationToken cancellationToken)
    {
        // While promised users wait their turn, a newcomer joins the line (a promise) instead of racing them.
        if (Promises.Outstanding > 0 && userId is not null)
        {
            return Reject(userGroup);
        }
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
                if (TryAdmit(userGroup, modelId, tokens, excludeGroup, userId) is { } admission)
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
        Stats.Refused(Second);
        _pool.Find(userGroup)?.CountRejection();
        return null;
    }
}
