using KeyPool.Core.Cluster;
using KeyPool.Core.KeyHealth;
using KeyPool.Core.Models;

namespace KeyPool.Core.Routing;

/// <summary>
/// The state that outlives every pool model: model ids (<see cref="ModelCatalog"/>), each key's live state
/// (<see cref="KeyRegistry"/>) and each team's budgets (<see cref="BudgetRegistry"/>). A <see cref="PoolSnapshot"/> is
/// built over it and only points into it, so swapping the model on a reload hands nothing forward.
/// </summary>
public sealed class PoolState
{
    /// <summary>Creates empty registries; <paramref name="shared"/> are the cluster budgets, or null when this instance is alone.</summary>
    public PoolState(KeyHealthOptions health, TimeProvider time, ModelCatalog? models = null, SharedBudgets? shared = null)
    {
        Models = models ?? new ModelCatalog();
        Keys = new KeyRegistry(health, time);
        Budgets = new BudgetRegistry(Models, time, shared);
    }

    /// <summary>Model names and their ids.</summary>
    public ModelCatalog Models { get; }

    /// <summary>Each key's health, ACL and counters.</summary>
    public KeyRegistry Keys { get; }

    /// <summary>Each team's budgets per model.</summary>
    public BudgetRegistry Budgets { get; }
}
