using KeyPool.Core.Budgets;
using KeyPool.Core.KeyHealth;
using KeyPool.Core.Keys;

namespace KeyPool.Core.Routing;

/// <summary>
/// One key of the pool model: its place (group, team, limits) is fixed for the model's life; its live state
/// (<see cref="KeyLiveState"/>) and its team's budgets (<see cref="TeamBudget"/>) are the long-lived ones it points at.
/// </summary>
public sealed class PoolMember
{
    internal PoolMember(UpstreamKey key, int teamIndex, string team, BudgetLimits limits, KeyLiveState state, TeamBudget budget)
    {
        Key = key;
        TeamIndex = teamIndex;
        Team = team;
        Limits = limits;
        State = state;
        Budget = budget;
    }

    /// <summary>The key.</summary>
    public UpstreamKey Key { get; }

    /// <summary>The key group.</summary>
    public int Group => Key.Group;

    /// <summary>Index of the team in this pool model, shared by keys of one team: they draw on one budget.</summary>
    public int TeamIndex { get; }

    /// <summary>The team id (configured, reported by the upstream, or the key's own).</summary>
    public string Team { get; }

    /// <summary>The budget limits of the team.</summary>
    public BudgetLimits Limits { get; }

    /// <summary>The key's live state (kept across reloads while the key stays).</summary>
    public KeyLiveState State { get; }

    /// <summary>The team's budgets per model (kept across reloads while the team stays).</summary>
    public TeamBudget Budget { get; }

    /// <summary>Revocation, cool-down and circuit state.</summary>
    public KeyHealthTracker Health => State.Health;

    /// <summary>Requests this key served for users of other groups.</summary>
    public long SpillsIn => State.SpillsIn;

    /// <summary>Requests of this group's users refused for lack of capacity anywhere.</summary>
    public long Rejections => State.Rejections;

    /// <summary>The models the upstream lets this key use (its <c>acls</c>); null when it allows all or did not say.</summary>
    public ModelAcl? Acl => State.Acl;

    /// <summary>
    /// Whether the key may serve <paramref name="modelName"/> (id <paramref name="modelId"/>) at <paramref name="second"/>:
    /// its ACL allows it, and the upstream has not lately refused it with 403.
    /// </summary>
    public bool Permits(int modelId, string modelName, long second) => State.Permits(modelId, modelName, second);

    /// <summary>The upstream answered 403 for this model: route it elsewhere until <paramref name="untilSecond"/>.</summary>
    internal void Deny(int modelId, long untilSecond) => State.Deny(modelId, untilSecond);

    /// <summary>Sets the ACL the upstream reported (null: all models).</summary>
    internal void SetAcl(ModelAcl? acl) => State.SetAcl(acl);

    internal void CountSpillIn() => State.CountSpillIn();

    internal void CountRejection() => State.CountRejection();
}
