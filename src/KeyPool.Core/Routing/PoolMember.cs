using KeyPool.Core.Budgets;
using KeyPool.Core.KeyHealth;
using KeyPool.Core.Keys;

namespace KeyPool.Core.Routing;

/// <summary>One key of the pool with its team, health and counters.</summary>
public sealed class PoolMember
{
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

    internal void CountSpillIn() => Interlocked.Increment(ref _spillsIn);

    internal void CountRejection() => Interlocked.Increment(ref _rejections);
}
