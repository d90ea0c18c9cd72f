using KeyPool.Core.Routing;

namespace KeyPool.Core.Simulation;

/// <summary>The simulated pool: keys with the upstream's limits, and the gateway's routing settings.</summary>
public sealed class PoolModel
{
    /// <summary>Keys, each its own team.</summary>
    public int Keys { get; set; } = 31;

    /// <summary>Requests per minute per key (the upstream's limit, and KeyPool's budget). Default 480.</summary>
    public int RequestsPerMinute { get; set; } = 480;

    /// <summary>Tokens per minute per key. Default 2,000,000.</summary>
    public long TokensPerMinute { get; set; } = 2_000_000;

    /// <summary>KeyPool's burst allowance in seconds (<c>KeyPool:Budgets:BurstSeconds</c>). Default 10.</summary>
    public int BurstSeconds { get; set; } = Budgets.BudgetOptions.DefaultBurstSeconds;

    /// <summary>How long a request may wait for capacity (<c>KeyPool:Routing:MaxQueueWait</c>), in whole seconds. Default 2.</summary>
    public int MaxQueueWaitSeconds { get; set; } = 2;

    /// <summary>The routing policy (<c>KeyPool:Routing:Policy</c>). Default StickyWithSpillover.</summary>
    public string Policy { get; set; } = KeySelectionPolicies.StickyWithSpillover;

    /// <summary>Every problem with the model; empty when valid.</summary>
    public IReadOnlyList<string> Problems()
    {
        var problems = new List<string>();
        if (Keys is < 1 or > 10_000)
        {
            problems.Add($"keys must be from 1 to 10000, not {Keys}.");
        }
        if (RequestsPerMinute < 1)
        {
            problems.Add($"rpm must be at least 1, not {RequestsPerMinute}.");
        }
        if (TokensPerMinute < 1)
        {
            problems.Add($"tpm must be at least 1, not {TokensPerMinute}.");
        }
        if (BurstSeconds is < 1 or > 60)
        {
            problems.Add($"burstSeconds must be from 1 to 60, not {BurstSeconds}.");
        }
        if (MaxQueueWaitSeconds is < 0 or > 60)
        {
            problems.Add($"maxQueueWait must be from 0 to 60 seconds, not {MaxQueueWaitSeconds}.");
        }
        if (!KeySelectionPolicies.All.Contains(Policy, StringComparer.OrdinalIgnoreCase))
        {
            problems.Add($"policy must be one of {string.Join(", ", KeySelectionPolicies.All)}, not '{Policy}'.");
        }
        return problems;
    }
}
