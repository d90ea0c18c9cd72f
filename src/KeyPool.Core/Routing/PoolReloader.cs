using KeyPool.Core.Budgets;
using KeyPool.Core.Keys;

namespace KeyPool.Core.Routing;

/// <summary>
/// The pool model's one writer: holds the current <see cref="PoolSnapshot"/> and replaces it whole when keys, teams or
/// per-group settings change, then drops the state (<see cref="PoolState"/>) of keys and teams that left. The state of
/// those that stay is untouched: the new model points at it.
/// </summary>
internal sealed class PoolReloader
{
    private readonly PoolState _state;
    private readonly BudgetOptions _budgets;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private volatile PoolSnapshot _current;
    private IReadOnlyDictionary<int, GroupSettings> _groups;
    private IReadOnlyDictionary<int, string> _teams = new Dictionary<int, string>();

    /// <summary>Builds the first model over <paramref name="ring"/>.</summary>
    public PoolReloader(KeyRing ring, IReadOnlyDictionary<int, GroupSettings> groups, BudgetOptions budgets, PoolState state, TimeProvider time)
    {
        _groups = groups ?? throw new ArgumentNullException(nameof(groups));
        _budgets = budgets ?? throw new ArgumentNullException(nameof(budgets));
        _state = state ?? throw new ArgumentNullException(nameof(state));
        _time = time ?? throw new ArgumentNullException(nameof(time));
        _current = PoolSnapshot.Build(ring ?? throw new ArgumentNullException(nameof(ring)), groups, _teams, budgets, state);
    }

    /// <summary>The pool model now.</summary>
    public PoolSnapshot Current => _current;

    /// <summary>The last change of keys (for health), or null before any load changed something.</summary>
    public PoolChange? LastChange { get; private set; }

    /// <summary>
    /// Replaces the pool model (keys added or removed, teams learned from the upstream, new per-group settings). The
    /// health of keys that stay and the spent budgets of teams that stay are untouched; the state of keys and teams
    /// that left is dropped. Requests already admitted keep their key.
    /// </summary>
    /// <param name="ring">The keys from now on.</param>
    /// <param name="discoveredTeams">Teams the upstream reported, by group; merged with those known (a replaced key forgets its team).</param>
    /// <param name="groups">New per-group settings, or null to keep the current ones.</param>
    /// <returns>What changed in the keys.</returns>
    public KeyRingDiff Load(KeyRing ring, IReadOnlyDictionary<int, string>? discoveredTeams = null, IReadOnlyDictionary<int, GroupSettings>? groups = null)
    {
        ArgumentNullException.ThrowIfNull(ring);
        lock (_lock)
        {
            var current = _current;
            var diff = KeyRingDiff.Between(current.Ring, ring);
            if (!diff.IsEmpty)
            {
                LastChange = new PoolChange(_time.GetUtcNow(), diff.ToString());
            }
            var teams = _teams
                .Where(t => ring.Find(t.Key) is { } key && current.Find(t.Key)?.Key.Secret == key.Secret)
                .ToDictionary(t => t.Key, t => t.Value);
            foreach (var (group, team) in discoveredTeams ?? new Dictionary<int, string>())
            {
                teams[group] = team;
            }
            _teams = teams;
            _groups = groups ?? _groups;
            var next = PoolSnapshot.Build(ring, _groups, teams, _budgets, _state);
            _current = next;
            _state.Keys.Retain(ring);
            _state.Budgets.Retain(TeamNames(next));
            return diff;
        }
    }

    private static IEnumerable<string> TeamNames(PoolSnapshot pool)
    {
        foreach (var team in pool.Teams)
        {
            yield return team[0].Team;
        }
    }
}

/// <summary>A change of the pool's keys, for health.</summary>
/// <param name="At">When it was loaded.</param>
/// <param name="Change">What changed, in words (groups only, never a key).</param>
public sealed record PoolChange(DateTimeOffset At, string Change);
