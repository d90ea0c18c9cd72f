using KeyPool.Core.Health;

namespace KeyPool.Alerts;

/// <summary>What the conditions are judged on, read from the gateway's state once per check.</summary>
/// <param name="Keys">Each key's report (state, reason), by group.</param>
/// <param name="UpstreamRateLimits">429s the upstream answered so far, by group (counted since start).</param>
/// <param name="DegradedReason">Why shared state is lost, or null.</param>
/// <param name="StoreStaleSince">Since when the store could not be read, or null.</param>
/// <param name="Headroom">Measured share of the pool's minute budget that is free (0–1), or null when unknown.</param>
/// <param name="CostToday">Upstream cost of the UTC day so far (USD), or null when unknown.</param>
internal sealed record AlertFacts(
    IReadOnlyList<KeyReport> Keys,
    IReadOnlyDictionary<int, long> UpstreamRateLimits,
    string? DegradedReason,
    DateTimeOffset? StoreStaleSince,
    double? Headroom,
    decimal? CostToday);
