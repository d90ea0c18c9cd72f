using KeyPool.Core.Budgets;
using KeyPool.Core.Cluster;
using KeyPool.Core.Fairness;
using KeyPool.Core.KeyHealth;
using KeyPool.Core.Keys;
using KeyPool.Core.Models;

namespace KeyPool.Core.Routing;

/// <summary>
/// The one holder of the current pool (keys, teams, budgets, health) and the door to it: the
/// configured policy picks a key and reserves its budget; when no key has budget the request waits
/// (bounded in time and in number of waiters) for the next second's capacity, which goes to the waiting
/// users with least recent usage first (<see cref="Fairness.FairShare"/>). The
/// <see cref="PoolSnapshot"/> (the immutable pool model) is replaced whole by <see cref="PoolReloader"/> when keys or teams change; it points at
/// the long-lived <see cref="PoolState"/>. A request takes the model once and uses it throughout (user assignment,
/// routing, scrubbing secrets).
/// </summary>
public sealed partial class KeyPoolRouter
{
    private readonly RoutingOptions _options;
    private readonly TimeProvider _time;
    private readonly IKeySelectionPolicy _noUser = new MostHeadroomPolicy();
    private readonly PoolReloader _model;
    private readonly FairQueue _queue;
    private long _rejected;

    /// <summary>
    /// Creates a router over <paramref name="ring"/>; <paramref name="shared"/> are budgets shared with other
    /// instances through a ledger, or null (default) when this instance is alone; <paramref name="models"/> gives the
    /// model ids (a catalog of its own when null).
    /// </summary>
    public KeyPoolRouter(
        KeyRing ring,
        IKeySelectionPolicy policy,
        RoutingOptions options,
        BudgetOptions budgets,
        KeyHealthOptions health,
        IReadOnlyDictionary<int, GroupSettings> groups,
        TimeProvider time,
        SharedBudgets? shared = null,
        ModelCatalog? models = null)
    {
        Policy = policy ?? throw new ArgumentNullException(nameof(policy));
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _time = time ?? throw new ArgumentNullException(nameof(time));
        State = new PoolState(health ?? throw new ArgumentNullException(nameof(health)), time, models, shared);
        _model = new PoolReloader(ring, groups, budgets, State, time);
        _queue = new FairQueue(this, Fairness, options, time);
    }

    /// <summary>The policy in use.</summary>
    public IKeySelectionPolicy Policy { get; }

    /// <summary>The pool now.</summary>
    public PoolSnapshot Pool => _model.Current;

    /// <summary>The state every pool model points at: model ids, key health, team budgets.</summary>
    public PoolState State { get; }

    /// <summary>The last change of keys (for health), or null before any load changed something.</summary>
    public PoolChange? LastChange => _model.LastChange;

    /// <summary>Requests refused for lack of capacity anywhere.</summary>
    public long Rejected => Volatile.Read(ref _rejected);

    /// <summary>Admitted and refused requests over the last minutes (stickiness, goodput).</summary>
    public RouteStats Stats { get; } = new();

    /// <summary>Demand per minute (requests, active users, tokens) over the last hour.</summary>
    public DemandMeter Demand { get; } = new();

    /// <summary>The slots promised to refused users through <c>Retry-After</c>.</summary>
    public RetryPromises Promises { get; } = new();

    /// <summary>Each user's recent admitted usage: who is over their fair share of a short budget.</summary>
    public FairShare Fairness { get; } = new();

    /// <summary>Requests waiting for capacity now.</summary>
    public int Waiting => _queue.Count;

    /// <summary>The current Unix second, the unit of every budget.</summary>
    public long Second => _time.GetUtcNow().ToUnixTimeSeconds();

    /// <summary>Replaces the pool model: see <see cref="PoolReloader.Load"/>.</summary>
    public KeyRingDiff Load(KeyRing ring, IReadOnlyDictionary<int, string>? discoveredTeams = null, IReadOnlyDictionary<int, GroupSettings>? groups = null) =>
        _model.Load(ring, discoveredTeams, groups);

    /// <summary>Admits to the current pool without waiting; null when no key can take the request now (see the overload taking a pool).</summary>
    public Admission? TryAdmit(int userGroup, int modelId, long tokens, int excludeGroup = 0, string? userId = null) =>
        TryAdmit(_model.Current, userGroup, modelId, tokens, excludeGroup, userId);

    /// <summary>
    /// Admits <paramref name="userId"/>'s request to <paramref name="pool"/> without waiting; null when no key can
    /// take it now, or when its turn has not come (refused users hold promised slots: see <see cref="RetryPromises"/>;
    /// a user over their fair share does not take a budget's last second: see <see cref="FairShare"/>). A request of no
    /// user (group 0, e.g. <c>GET /v1/models</c>) goes to the key with most headroom: it is not a spill. With a
    /// <paramref name="team"/>, only that team's keys are tried (a stored object lives there). Counts it for
    /// stickiness, goodput, demand and the user's recent usage.
    /// </summary>
    public Admission? TryAdmit(PoolSnapshot pool, int userGroup, int modelId, long tokens, int excludeGroup, string? userId, string? team = null)
    {
        ArgumentNullException.ThrowIfNull(pool);
        var second = Second;
        var request = userId is null
            ? new SelectionRequest(userGroup, modelId, tokens, second, excludeGroup)
            : new SelectionRequest(userGroup, modelId, tokens, second, excludeGroup, Fairness, FairShare.Hash(userId));
        Admission? admission;
        if (team is not null)
        {
            admission = TryAdmitOnTeam(pool, request, team);
        }
        else
        {
            var policy = userGroup == 0 ? _noUser : Policy;
            admission = userId is not null && Promises.Outstanding > 0
                ? Promises.Admit(pool, policy, request, userId, Fairness.IsHeavy(request.UserHash, second))
                : policy.Select(pool, request);
        }
        if (admission is { } admitted)
        {
            Stats.Admitted(second, userGroup == 0 || admitted.Member.Group == userGroup);
            Demand.Record(second, userId, pool);
        }
        return admission;
    }

    /// <summary>
    /// Admits <paramref name="userId"/>'s request to <paramref name="pool"/> (to <paramref name="team"/>'s keys only, when
    /// given), waiting up to <see cref="RoutingOptions.MaxQueueWait"/> for capacity; null when none came.
    /// </summary>
    public ValueTask<Admission?> AdmitAsync(PoolSnapshot pool, int userGroup, int modelId, long tokens, int excludeGroup, string? userId, string? team, CancellationToken cancellationToken)
    {
        var admission = TryAdmit(pool, userGroup, modelId, tokens, excludeGroup, userId, team);
        if (admission is not null)
        {
            return ValueTask.FromResult(admission);
        }
        if (team is not null)
        {
            // A pinned request asks for one team only: it is not counted as asking of the whole pool.
            return _options.MaxQueueWait <= TimeSpan.Zero || TeamMembers(pool, team) is null
                ? ValueTask.FromResult(Refuse(pool, userGroup))
                : new ValueTask<Admission?>(_queue.WaitAsync(pool, userGroup, modelId, tokens, excludeGroup, userId, cancellationToken, team));
        }
        if (userId is not null)
        {
            Fairness.RecordRefused(FairShare.Hash(userId), Second);
        }
        return new ValueTask<Admission?>(WaitAsync(pool, userGroup, modelId, tokens, excludeGroup, userId, cancellationToken));
    }

    /// <summary>
    /// Seconds a refused user should wait: the slot promised to them in <paramref name="pool"/>
    /// (<see cref="RetryPromises"/>), else until the soonest budget frees. A user over their fair share gets no
    /// promise and loses those they hold: the slots are kept for the others, and they take what is left. A request
    /// of no user (null) gets the soonest free budget.
    /// </summary>
    public int RetryAfterSeconds(PoolSnapshot pool, int modelId, string? userId)
    {
        ArgumentNullException.ThrowIfNull(pool);
        if (userId is null)
        {
            return SoonestFree(pool, pool.Members, modelId);
        }
        if (Fairness.IsHeavy(userId, Second))
        {
            Promises.Forfeit(modelId, userId);
            return SoonestFree(pool, pool.Members, modelId);
        }
        return Promises.Promise(pool, modelId, userId, Second) ?? SoonestFree(pool, pool.Members, modelId);
    }

    // Seconds until the soonest budget of the active keys among members frees (1 at least, 60 at most).
    private int SoonestFree(PoolSnapshot pool, IReadOnlyList<PoolMember> members, int modelId)
    {
        var second = Second;
        var best = 60;
        for (var i = 0; i < members.Count; i++)
        {
            if (members[i].Health.State is KeyState.Active)
            {
                best = Math.Min(best, pool.Window(members[i], modelId).SecondsUntilFree(second));
            }
        }
        return Math.Max(1, best);
    }

    private Task<Admission?> WaitAsync(PoolSnapshot pool, int userGroup, int modelId, long tokens, int excludeGroup, string? userId, CancellationToken cancellationToken)
    {
        // Waiters are admitted through TryAdmit, which keeps the room of the promises due: promised users are not raced.
        if (_options.MaxQueueWait <= TimeSpan.Zero)
        {
            return Task.FromResult(Refuse(pool, userGroup));
        }
        return _queue.WaitAsync(pool, userGroup, modelId, tokens, excludeGroup, userId, cancellationToken);
    }

    /// <summary>Counts a request refused for lack of capacity; returns null, the refusal.</summary>
    internal Admission? Refuse(PoolSnapshot pool, int userGroup)
    {
        Interlocked.Increment(ref _rejected);
        Stats.Refused(Second);
        pool.Find(userGroup)?.CountRejection();
        return null;
    }
}
