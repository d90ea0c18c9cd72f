using KeyPool.Core.Budgets;
using KeyPool.Core.KeyHealth;
using KeyPool.Core.Keys;

namespace KeyPool.Core.Routing;

/// <summary>One key of the pool with its team, health and counters.</summary>
public sealed class PoolMember
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<int, long> _deniedUntil = new(); // model id → Unix second
    private volatile ModelAcl? _acl;
    private long _spillsIn;
    private long _rejections;

    internal PoolMember(UpstreamKey key, int teamIndex, string team, BudgetLimits limits, KeyHealthTracker health, PoolMember? previous = null)
    {
        Key = key;
        TeamIndex = teamIndex;
        Team = team;
        Limits = limits;
        Health = health;
        // Counters survive a reload that keeps the key.
        _spillsIn = previous?.SpillsIn ?? 0;
        _rejections = previous?.Rejections ?? 0;
        if (previous is not null)
        {
            _acl = previous._acl;
            foreach (var (model, until) in previous._deniedUntil)
            {
                _deniedUntil[model] = until;
            }
        }
    }

    /// <summary>The key.</summary>
    public UpstreamKey Key { get; }

    /// <summary>The key group.</summary>
    public int Group => Key.Group;

    /// <summary>Index of the team, shared by keys of one team: they draw on one budget.</summary>
    public int TeamIndex { get; }

    /// <summary>The team id (configured, reported by the upstream, or the key's own).</summary>
    public string Team { get; }

    /// <summary>The budget limits of the team.</summary>
    public BudgetLimits Limits { get; }

    /// <summary>Revocation, cool-down and circuit state.</summary>
    public KeyHealthTracker Health { get; }

    /// <summary>Requests this key served for users of other groups.</summary>
    public long SpillsIn => Volatile.Read(ref _spillsIn);

    /// <summary>Requests of this group's users refused for lack of capacity anywhere.</summary>
    public long Rejections => Volatile.Read(ref _rejections);

    /// <summary>The models the upstream lets this key use (its <c>acls</c>); null when it allows all or did not say.</summary>
    public ModelAcl? Acl => _acl;

    /// <summary>
    /// Whether the key may serve <paramref name="modelName"/> (id <paramref name="modelId"/>) at <paramref name="second"/>:
    /// its ACL allows it, and the upstream has not lately refused it with 403.
    /// </summary>
    public bool Permits(int modelId, string modelName, long second) =>
        (_acl is not { } acl || acl.Allows(modelName))
        && (_deniedUntil.IsEmpty || !_deniedUntil.TryGetValue(modelId, out var until) || until <= second);

    /// <summary>The upstream answered 403 for this model: route it elsewhere until <paramref name="untilSecond"/>.</summary>
    public void Deny(int modelId, long untilSecond) => _deniedUntil[modelId] = untilSecond;

    /// <summary>Sets the ACL the upstream reported (null: all models).</summary>
    public void SetAcl(ModelAcl? acl) => _acl = acl;

    internal void CountSpillIn() => Interlocked.Increment(ref _spillsIn);

    internal void CountRejection() => Interlocked.Increment(ref _rejections);
}
