using System.Text.Json.Serialization;
using KeyPool.Core.Money;
using KeyPool.Core.Usage;

namespace KeyPool.Usage;

/// <summary>
/// Money as health and the dashboard show it. Ticks are the integer sums of record (1 USD = 10^10 ticks); USD is
/// derived. <c>estimated</c>: part of the cost came from the price table, not the upstream's bill. <c>cached_share</c>:
/// the share of prompt tokens served from the prompt cache. <c>saved_usd</c>: what those cached tokens saved against
/// fresh input (from the price table; 0 without one) — what keeping users on their key is worth.
/// </summary>
public sealed record CostFigures(
    [property: JsonPropertyName("cost_ticks")] long CostTicks,
    [property: JsonPropertyName("cost_usd")] decimal CostUsd,
    [property: JsonPropertyName("estimated")] bool Estimated,
    [property: JsonPropertyName("estimated_cost_usd")] decimal EstimatedCostUsd,
    [property: JsonPropertyName("cached_share")] double CachedShare,
    [property: JsonPropertyName("saved_ticks")] long SavedTicks,
    [property: JsonPropertyName("saved_usd")] decimal SavedUsd)
{
    /// <summary>The figures of one key group's totals.</summary>
    public static CostFigures Of(KeyGroupUsage usage)
    {
        ArgumentNullException.ThrowIfNull(usage);
        return Of(usage.CostTicks, usage.EstimatedCostTicks, usage.SavedTicks, usage.PromptTokens, usage.CachedTokens);
    }

    /// <summary>All groups together.</summary>
    public static CostFigures Sum(IEnumerable<KeyGroupUsage> usages)
    {
        ArgumentNullException.ThrowIfNull(usages);
        long cost = 0, estimated = 0, saved = 0, prompt = 0, cached = 0;
        foreach (var u in usages)
        {
            (cost, estimated, saved, prompt, cached) = (cost + u.CostTicks, estimated + u.EstimatedCostTicks, saved + u.SavedTicks, prompt + u.PromptTokens, cached + u.CachedTokens);
        }
        return Of(cost, estimated, saved, prompt, cached);
    }

    /// <summary>Per team: <paramref name="teams"/>[i] is the team of <paramref name="usages"/>[i].</summary>
    public static IReadOnlyDictionary<string, CostFigures> ByTeam(IEnumerable<string> teams, IReadOnlyList<KeyGroupUsage> usages) =>
        teams.Zip(usages).GroupBy(p => p.First, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => Sum(g.Select(p => p.Second)), StringComparer.Ordinal);

    private static CostFigures Of(long cost, long estimated, long saved, long prompt, long cached) => new(
        cost,
        UsdTicks.ToUsd(cost),
        estimated != 0,
        UsdTicks.ToUsd(estimated),
        prompt == 0 ? 0 : Math.Round((double)cached / prompt, 4),
        saved,
        UsdTicks.ToUsd(saved));
}
