using System.Collections.Concurrent;
using KeyPool.Core.Budgets;
using KeyPool.Core.Cluster;
using KeyPool.Core.KeyHealth;
using KeyPool.Core.Keys;

namespace KeyPool.Core.Routing;

/// <summary>
/// The pool as one request sees it: the members, their teams and the budgets per (team, model).
/// Built whole and swapped when keys or teams change; health trackers and budgets of unchanged
/// keys carry over.
/// </summary>
public sealed class PoolSnapshot
{
    private readonly PoolMember?[] _byGroup;
    private readonly ConcurrentDictionary<string, int> _modelIds;
    private readonly ModelNames _modelNames;
    private readonly Lock _windowsLock = new();
    private RateWindow?[][] _windows; // [team][model]; grown copy-on-write
    private SharedBudgets? _shared;   // budgets shared with other instances, or null when this one is alone

    private PoolSnapshot(KeyRing ring, PoolMember[] members, ConcurrentDictionary<string, int> modelIds, ModelNames modelNames, RateWindow?[][] windows)
    {
        _modelNames = modelNames;
        Ring = ring;
        Members = members;
        _modelIds = modelIds;
        _windows = windows;
        _byGroup = new PoolMember?[ring.MaxGroup + 1];
        foreach (var member in members)
        {
            _byGroup[member.Group] = member;
        }
        Teams = members.GroupBy(m => m.TeamIndex).Select(g => g.ToArray()).ToArray();
    }

    /// <summary>The keys.</summary>
    public KeyRing Ring { get; }

    /// <summary>The members in group order.</summary>
    public IReadOnlyList<PoolMember> Members { get; }

    /// <summary>Members grouped by team, one array per team.</summary>
    public IReadOnlyList<PoolMember[]> Teams { get; }

    /// <summary>The member of <paramref name="group"/>, or null.</summary>
    public PoolMember? Find(int group) => (uint)group < (uint)_byGroup.Length ? _byGroup[group] : null;

    /// <summary>Model names with a budget of their own at most; further names share one budget (stricter, never looser).</summary>
    public const int MaxModels = 512;

    /// <summary>The budget of every model name past <see cref="MaxModels"/>.</summary>
    public const string OverflowModel = "(other models)";

    /// <summary>
    /// A small integer for a model name, stable for the process. Names come from callers, so the table is bounded:
    /// past <see cref="MaxModels"/> names, new ones share the <see cref="OverflowModel"/> budget.
    /// </summary>
    public int ModelId(string? model)
    {
        var name = model ?? "";
        if (_modelIds.TryGetValue(name, out var id))
        {
            return id;
        }
        lock (_modelNames)
        {
            if (_modelIds.TryGetValue(name, out id))
            {
                return id;
            }
            if (_modelIds.Count >= MaxModels && name != OverflowModel)
            {
                return ModelIdLocked(OverflowModel);
            }
            return ModelIdLocked(name);
        }
    }

    /// <summary>The model name of <paramref name="modelId"/> ("" for requests of no model).</summary>
    public string ModelName(int modelId)
    {
        var names = Volatile.Read(ref _modelNames.Names);
        return (uint)modelId < (uint)names.Length ? names[modelId] : "";
    }

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

    private int ModelIdLocked(string name)
    {
        if (_modelIds.TryGetValue(name, out var id))
        {
            return id;
        }
        id = _modelIds.Count;
        Volatile.Write(ref _modelNames.Names, [.. _modelNames.Names, name]);
        _modelIds[name] = id;
        return id;
    }

    /// <summary>
    /// Builds a snapshot; <paramref name="previous"/> donates the health and budgets of keys that did not change;
    /// with <paramref name="shared"/> each request also spends this instance's lease of the budget shared with other instances.
    /// </summary>
    public static PoolSnapshot Build(
        KeyRing ring,
        IReadOnlyDictionary<int, GroupSettings> groups,
        IReadOnlyDictionary<int, string> discoveredTeams,
        BudgetOptions budgets,
        KeyHealthOptions health,
        TimeProvider time,
        PoolSnapshot? previous = null,
        SharedBudgets? shared = null)
    {
        ArgumentNullException.ThrowIfNull(ring);
        var teamIndexes = new Dictionary<string, int>(StringComparer.Ordinal);
        var members = new PoolMember[ring.Count];
        var teamLimits = new List<BudgetLimits>();
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
                teamLimits.Add(new BudgetLimits(settings?.RequestsPerMinute ?? budgets.RequestsPerMinute, settings?.TokensPerMinute ?? budgets.TokensPerMinute, budgets.BurstSeconds));
            }
            var old = previous?.Find(key.Group) is { } same && same.Key.Secret == key.Secret ? same : null;
            members[i] = new PoolMember(key, teamIndex, team, teamLimits[teamIndex], old?.Health ?? new KeyHealthTracker(health, time), old);
        }
        var windows = new RateWindow?[teamIndexes.Count][];
        for (var t = 0; t < windows.Length; t++)
        {
            windows[t] = [];
        }
        var snapshot = new PoolSnapshot(ring, members, previous?._modelIds ?? new ConcurrentDictionary<string, int>(StringComparer.Ordinal), previous?._modelNames ?? new ModelNames(), windows);
        snapshot._shared = shared;
        snapshot.CarryBudgets(previous);
        return snapshot;
    }

    /// <summary>The budget of <paramref name="member"/>'s team for <paramref name="modelId"/>.</summary>
    public RateWindow Window(PoolMember member, int modelId)
    {
        ArgumentNullException.ThrowIfNull(member);
        var row = Volatile.Read(ref _windows)[member.TeamIndex];
        if ((uint)modelId < (uint)row.Length && row[modelId] is { } window)
        {
            return window;
        }
        lock (_windowsLock)
        {
            var windows = _windows;
            row = windows[member.TeamIndex];
            if ((uint)modelId < (uint)row.Length && row[modelId] is { } existing)
            {
                return existing;
            }
            var grown = new RateWindow?[Math.Max(row.Length, modelId + 1)];
            row.CopyTo(grown, 0);
            var created = grown[modelId] = new RateWindow(member.Limits);
            var copy = (RateWindow?[][])windows.Clone();
            copy[member.TeamIndex] = grown;
            Volatile.Write(ref _windows, copy);
            return created;
        }
    }

    /// <summary>All budgets of a team (one per model used so far).</summary>
    public IEnumerable<RateWindow> WindowsOf(PoolMember member)
    {
        ArgumentNullException.ThrowIfNull(member);
        return Volatile.Read(ref _windows)[member.TeamIndex].OfType<RateWindow>();
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
        var window = Window(member, request.ModelId);
        // Fair share costs nothing while a budget has room: only a short one asks who the user is and counts them.
        var fairness = request.Fairness is { } fair && window.IsShort() ? fair : null;
        var overShare = fairness is not null && fairness.IsHeavy(request.UserHash, request.Second);
        var lease = _shared?.For(member.Team, member.Limits, request.ModelId, ModelName(request.ModelId));
        if (lease is not null && !lease.TryTake(request.Second, request.Tokens))
        {
            member.Health.Abandon();
            _shared!.Wake();
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

    private void CarryBudgets(PoolSnapshot? previous)
    {
        if (previous is null)
        {
            return;
        }
        // A team that keeps its name and limits keeps its counts: a reload must not reset spent budget.
        foreach (var member in Members)
        {
            var old = previous.Members.FirstOrDefault(m => m.Team == member.Team && m.Limits == member.Limits);
            if (old is not null)
            {
                _windows[member.TeamIndex] = Volatile.Read(ref previous._windows)[old.TeamIndex];
            }
        }
    }

    /// <summary>Names by id, shared by the snapshots of one pool (ids are stable for the process); doubles as the lock of new ids.</summary>
    private sealed class ModelNames
    {
        public string[] Names = [];
    }
}
