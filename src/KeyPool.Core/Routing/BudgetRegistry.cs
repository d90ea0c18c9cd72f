using KeyPool.Core.Budgets;
using KeyPool.Core.Cluster;
using KeyPool.Core.Models;

namespace KeyPool.Core.Routing;

/// <summary>
/// The long-lived budgets of every team, by team name: per model, the local window (<see cref="RateWindow"/>) and,
/// when instances share the keys, this instance's lease of the cluster budget (<see cref="SharedBudget"/>). It
/// outlives the pool model: a reload points the new members at the same <see cref="TeamBudget"/>, so spent budget
/// is never reset by a reload; a team that leaves the pool loses its budgets.
/// </summary>
public sealed class BudgetRegistry
{
    private readonly Lock _lock = new();
    private Dictionary<string, TeamBudget> _teams = new(StringComparer.Ordinal);

    /// <summary>Creates an empty registry; <paramref name="shared"/> are the cluster budgets, or null when this instance is alone.</summary>
    public BudgetRegistry(ModelCatalog models, TimeProvider time, SharedBudgets? shared = null)
    {
        Models = models ?? throw new ArgumentNullException(nameof(models));
        Time = time ?? throw new ArgumentNullException(nameof(time));
        Shared = shared;
    }

    /// <summary>The cluster budgets, or null when this instance is alone.</summary>
    public SharedBudgets? Shared { get; }

    internal ModelCatalog Models { get; }

    internal TimeProvider Time { get; }

    /// <summary>
    /// The budgets of <paramref name="team"/>, created on first sight. When the team's <paramref name="limits"/> changed,
    /// its budgets take them and keep what was spent (see <see cref="TeamBudget"/>).
    /// </summary>
    public TeamBudget For(string team, BudgetLimits limits)
    {
        ArgumentNullException.ThrowIfNull(team);
        lock (_lock)
        {
            if (!_teams.TryGetValue(team, out var budget))
            {
                budget = new TeamBudget(team, limits, this);
                _teams[team] = budget;
            }
            else if (budget.Limits != limits)
            {
                budget.Relimit(limits);
            }
            return budget;
        }
    }

    /// <summary>Forgets the teams not in <paramref name="teams"/> (their keys left the pool), here and in the cluster budgets.</summary>
    public void Retain(IEnumerable<string> teams)
    {
        ArgumentNullException.ThrowIfNull(teams);
        lock (_lock)
        {
            var kept = new Dictionary<string, TeamBudget>(StringComparer.Ordinal);
            foreach (var team in teams)
            {
                if (_teams.TryGetValue(team, out var budget))
                {
                    kept[team] = budget;
                }
            }
            _teams = kept;
            Shared?.Retain(kept.Keys);
        }
    }
}

/// <summary>
/// One team's budgets per model. On a change of the team's limits, the local window and the cluster lease agree: both
/// take the new limits and keep the minute's spend (the lease keeps the ledger's counts; the new local window is charged
/// what the old one counted, at the current second, so it frees a little later than it was spent: stricter, never looser).
/// What the old window held for requests in flight is carried too; they settle their real cost into the new window
/// (see <see cref="Admission"/>), so a correction is not lost with the old one.
/// </summary>
public sealed class TeamBudget
{
    private readonly BudgetRegistry _owner;
    private readonly Lock _lock = new();
    private ModelBudget?[] _byModel = []; // by model id; replaced whole under _lock
    private BudgetLimits _limits;

    internal TeamBudget(string team, BudgetLimits limits, BudgetRegistry owner)
    {
        Team = team;
        _limits = limits;
        _owner = owner;
    }

    /// <summary>The team.</summary>
    public string Team { get; }

    /// <summary>The limits every budget of the team enforces now.</summary>
    public BudgetLimits Limits
    {
        get
        {
            lock (_lock)
            {
                return _limits;
            }
        }
    }

    /// <summary>The budget of <paramref name="modelId"/>, created on first use; an array read on the request path.</summary>
    public ModelBudget For(int modelId)
    {
        var row = Volatile.Read(ref _byModel);
        if ((uint)modelId < (uint)row.Length && row[modelId] is { } budget)
        {
            return budget;
        }
        lock (_lock)
        {
            row = _byModel;
            if ((uint)modelId < (uint)row.Length && row[modelId] is { } existing)
            {
                return existing;
            }
            var grown = new ModelBudget?[Math.Max(row.Length, modelId + 1)];
            row.CopyTo(grown, 0);
            var created = grown[modelId] = new ModelBudget(new RateWindow(_limits), Lease(modelId, _limits));
            Volatile.Write(ref _byModel, grown);
            return created;
        }
    }

    /// <summary>The local windows of the models used so far.</summary>
    public IEnumerable<RateWindow> Windows
    {
        get
        {
            foreach (var budget in Volatile.Read(ref _byModel))
            {
                if (budget is not null)
                {
                    yield return budget.Window;
                }
            }
        }
    }

    internal void Relimit(BudgetLimits limits)
    {
        var second = _owner.Time.GetUtcNow().ToUnixTimeSeconds();
        lock (_lock)
        {
            _limits = limits;
            var row = new ModelBudget?[_byModel.Length];
            for (var modelId = 0; modelId < row.Length; modelId++)
            {
                if (_byModel[modelId] is not { } old)
                {
                    continue;
                }
                var window = new RateWindow(limits);
                var (requests, tokens) = old.Window.Used(second);
                window.Observe(second, limits.RequestsPerMinute - requests, limits.TokensPerMinute - tokens);
                row[modelId] = new ModelBudget(window, Lease(modelId, limits), second);
            }
            Volatile.Write(ref _byModel, row);
        }
    }

    // The lease takes the new limits too (SharedBudgets.For updates them and keeps the ledger's counts).
    private SharedBudget? Lease(int modelId, BudgetLimits limits) =>
        _owner.Shared?.For(Team, limits, modelId, _owner.Models.Name(modelId));
}

/// <summary>What a request of one model spends on one team: the local window and, in a cluster, this instance's lease.</summary>
/// <param name="Window">The local sliding-minute budget.</param>
/// <param name="Lease">The share of the cluster budget, or null when this instance is alone.</param>
/// <param name="CarriedAt">The second at which <paramref name="Window"/> was charged what the window it replaced counted
/// (a change of the team's limits), or <see cref="long.MinValue"/> for a first window.</param>
public sealed record ModelBudget(RateWindow Window, SharedBudget? Lease, long CarriedAt = long.MinValue);
