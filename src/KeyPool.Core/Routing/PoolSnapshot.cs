using KeyPool.Core.Budgets;
using KeyPool.Core.KeyHealth;
using KeyPool.Core.Keys;

namespace KeyPool.Core.Routing;

/// <summary>
/// The pool model as one request sees it: the members and their teams. Immutable: built whole when keys or teams
/// change and swapped atomically; its members point at the long-lived state (<see cref="PoolState"/>: key health,
/// team budgets, model ids), so the state of unchanged keys and teams simply stays where it is.
/// </summary>
public sealed class PoolSnapshot
{
    private readonly PoolMember?[] _byGroup;

    private PoolSnapshot(KeyRing ring, PoolMember[] members, PoolMember[][] teams, PoolState state)
    {
        Ring = ring;
        Members = members;
        Teams = teams;
        State = state;
        _byGroup = new PoolMember?[ring.MaxGroup + 1];
        foreach (var member in members)
        {
            _byGroup[member.Group] = member;
        }
    }

    /// <summary>The keys.</summary>
    public KeyRing Ring { get; }

    /// <summary>The members in group order.</summary>
    public IReadOnlyList<PoolMember> Members { get; }

    /// <summary>Members grouped by team, one array per team.</summary>
    public IReadOnlyList<PoolMember[]> Teams { get; }

    /// <summary>The long-lived state the members point at.</summary>
    public PoolState State { get; }

    /// <summary>The member of <paramref name="group"/>, or null.</summary>
    public PoolMember? Find(int group) => (uint)group < (uint)_byGroup.Length ? _byGroup[group] : null;

    /// <summary>The id of a model name (<see cref="Models.ModelCatalog.Id"/>).</summary>
    public int ModelId(string? model) => State.Models.Id(model);

    /// <summary>The model name of <paramref name="modelId"/> ("" for requests of no model).</summary>
    public string ModelName(int modelId) => State.Models.Name(modelId);

    /// <summary>Whether some usable key may serve <paramref name="modelId"/> at <paramref name="second"/> (none: the upstream refuses it to all).</summary>
    public bool AnyPermits(int modelId, long second)
    {
        var name = ModelName(modelId);
        foreach (var member in Members)
        {
            if (member.Health.State != KeyState.Revoked && member.Permits(modelId, name, second))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>Builds a pool model over fresh state (a pool of its own, e.g. for a command or a report).</summary>
    public static PoolSnapshot Build(
        KeyRing ring,
        IReadOnlyDictionary<int, GroupSettings> groups,
        IReadOnlyDictionary<int, string> discoveredTeams,
        BudgetOptions budgets,
        KeyHealthOptions health,
        TimeProvider time) =>
        Build(ring, groups, discoveredTeams, budgets, new PoolState(health, time));

    /// <summary>Builds a pool model whose members point at <paramref name="state"/> (created there on first sight).</summary>
    public static PoolSnapshot Build(
        KeyRing ring,
        IReadOnlyDictionary<int, GroupSettings> groups,
        IReadOnlyDictionary<int, string> discoveredTeams,
        BudgetOptions budgets,
        PoolState state)
    {
        ArgumentNullException.ThrowIfNull(ring);
        ArgumentNullException.ThrowIfNull(groups);
        ArgumentNullException.ThrowIfNull(discoveredTeams);
        ArgumentNullException.ThrowIfNull(budgets);
        ArgumentNullException.ThrowIfNull(state);
        var teamIndexes = new Dictionary<string, int>(StringComparer.Ordinal);
        var teamBudgets = new List<TeamBudget>();
        var teamMembers = new List<List<PoolMember>>();
        var members = new PoolMember[ring.Count];
        for (var i = 0; i < ring.Count; i++)
        {
            var key = ring.Keys[i];
            var settings = groups.GetValueOrDefault(key.Group);
            var team = settings?.Team is { Length: > 0 } declared ? declared
                : discoveredTeams.TryGetValue(key.Group, out var found) ? found
                : $"key-{key.Group}"; // unknown team: assume the key is its own
            if (!teamIndexes.TryGetValue(team, out var teamIndex))
            {
                teamIndex = teamIndexes.Count;
                teamIndexes[team] = teamIndex;
                // The lowest group of a team sets the team's limits.
                var limits = new BudgetLimits(settings?.RequestsPerMinute ?? budgets.RequestsPerMinute, settings?.TokensPerMinute ?? budgets.TokensPerMinute, budgets.BurstSeconds);
                teamBudgets.Add(state.Budgets.For(team, limits));
                teamMembers.Add([]);
            }
            var budget = teamBudgets[teamIndex];
            members[i] = new PoolMember(key, teamIndex, team, budget.Limits, state.Keys.For(key), budget);
            teamMembers[teamIndex].Add(members[i]);
        }
        var teams = new PoolMember[teamMembers.Count][];
        for (var t = 0; t < teams.Length; t++)
        {
            teams[t] = [.. teamMembers[t]];
        }
        return new PoolSnapshot(ring, members, teams, state);
    }

    /// <summary>The budget of <paramref name="member"/>'s team for <paramref name="modelId"/>.</summary>
    public RateWindow Window(PoolMember member, int modelId)
    {
        ArgumentNullException.ThrowIfNull(member);
        return member.Budget.For(modelId).Window;
    }

    /// <summary>All budgets of a team (one per model used so far).</summary>
    public IEnumerable<RateWindow> WindowsOf(PoolMember member)
    {
        ArgumentNullException.ThrowIfNull(member);
        return member.Budget.Windows;
    }

    /// <summary>Lets <paramref name="member"/> take the request when it is healthy, not excluded and its budget has room.</summary>
    public bool TryAdmit(PoolMember member, in SelectionRequest request, RouteReason reason, out Admission admission)
    {
        ArgumentNullException.ThrowIfNull(member);
        admission = default;
        if (member.Group == request.ExcludeGroup || !member.Permits(request.ModelId, ModelName(request.ModelId), request.Second) || !member.Health.TryEnter())
        {
            return false;
        }
        var budget = member.Budget.For(request.ModelId);
        var window = budget.Window;
        // Fair share costs nothing while a budget has room: only a short one asks who the user is and counts them.
        var fairness = request.Fairness is { } fair && window.IsShort() ? fair : null;
        var overShare = fairness is not null && fairness.IsHeavy(request.UserHash, request.Second);
        var lease = budget.Lease;
        if (lease is not null && !lease.TryTake(request.Second, request.Tokens))
        {
            member.Health.Abandon();
            State.Budgets.Shared!.Wake();
            return false;
        }
        if (!window.TryAcquire(request.Second, request.Tokens, overShare))
        {
            lease?.Untake(request.Second, request.Tokens);
            member.Health.Abandon();
            return false;
        }
        if (reason is RouteReason.Spill or RouteReason.MissingKeyFallback)
        {
            member.CountSpillIn();
        }
        fairness?.Record(request.UserHash, member.Limits, request.Tokens, request.Second);
        admission = new Admission(member, reason, window, request.Second, request.Tokens, request.ModelId, lease);
        return true;
    }

    /// <summary>How much room <paramref name="member"/> has for <paramref name="modelId"/> (0 when it cannot serve).</summary>
    public double Headroom(PoolMember member, int modelId, long second)
    {
        ArgumentNullException.ThrowIfNull(member);
        return member.Health.State == KeyState.Active ? Window(member, modelId).Headroom(second) : 0;
    }
}
