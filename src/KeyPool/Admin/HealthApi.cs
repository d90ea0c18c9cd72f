using System.Text.Json.Serialization;
using KeyPool.Auth;
using KeyPool.Core.Capacity;
using KeyPool.Core.Cluster;
using KeyPool.Core.Health;
using KeyPool.Core.KeyHealth;
using KeyPool.Core.Routing;
using KeyPool.Core.Usage;
using KeyPool.Core.Users;
using KeyPool.Keys;
using KeyPool.Proxy;
using KeyPool.Users;
using Microsoft.Extensions.Options;

namespace KeyPool.Admin;

/// <summary><c>GET /api/admin/api-keys/health</c>, in the original system's shape plus per-key state and budget use.</summary>
internal static class HealthApi
{
    public sealed record HealthResponse(bool Ok, PoolHealth Health, IReadOnlyList<KeyGroupStats> KeyGroupStats, PoolFacts Pool)
    {
        /// <summary>Figures of the instance that answered, not of the pool: they differ from one instance to the next.</summary>
        [JsonPropertyName("instance")] public InstanceFacts? Instance { get; init; }

        /// <summary>Capacity at the demand observed (issue 12), beside the planning constants of <c>estimatedCapacity</c>.</summary>
        public MeasuredCapacity? Measured { get; init; }

        /// <summary>Set-up problems this instance noticed while serving (e.g. a proxy it does not believe); empty when none.</summary>
        [JsonPropertyName("warnings")] public IReadOnlyList<string> Warnings { get; init; } = [];
    }

    public sealed record PoolFacts(string Policy, long RejectedRequests, IReadOnlyList<string> SharedTeams, IReadOnlyList<int> MissingGroups, string? LastKeyChange, DateTimeOffset? LastKeyChangeAt)
    {
        /// <summary>Routing quality over the last minutes (issue 12): stickiness, goodput, promised retries, tightened bursts.</summary>
        [JsonPropertyName("sticky_ratio")] public double? StickyRatio { get; init; }

        [JsonPropertyName("goodput_ratio")] public double? GoodputRatio { get; init; }

        [JsonPropertyName("quality")] public RoutingQuality? Quality { get; init; }

        /// <summary>Set when the store could not be read: the user counts shown are the last known, read at this time.</summary>
        [JsonPropertyName("user_counts_stale_since")] public DateTimeOffset? UserCountsStaleSince { get; init; }

        /// <summary>When the store's usage totals behind <c>keyGroupStats</c> were read (every flush, about once a second).</summary>
        [JsonPropertyName("totals_as_of")] public DateTimeOffset? TotalsAsOf { get; init; }

        /// <summary>Where the totals come from; says "stale" while the store cannot be read.</summary>
        [JsonPropertyName("totals_source")] public string? TotalsSource { get; init; }

        /// <summary>Set while the store cannot be read: the totals are the last read plus this instance's usage since.</summary>
        [JsonPropertyName("totals_stale_since")] public DateTimeOffset? TotalsStaleSince { get; init; }

        /// <summary>Every key group's money together.</summary>
        [JsonPropertyName("cost")] public Usage.CostFigures? Cost { get; init; }

        /// <summary>Why a <c>cooling</c> key rests: <c>rate_limited</c> or <c>circuit_open</c>; null otherwise.</summary>
        [JsonPropertyName("state_detail")] public string? StateDetail { get; init; }

        /// <summary>Money per upstream team (keys of one team share its bill).</summary>
        [JsonPropertyName("cost_by_team")] public IReadOnlyDictionary<string, Usage.CostFigures>? CostByTeam { get; init; }
    }

    /// <summary>The answering instance's own live figures.</summary>
    public sealed record InstanceFacts(
        [property: JsonPropertyName("in_flight")] int InFlight,
        [property: JsonPropertyName("requests_since_start")] long RequestsSinceStart,
        [property: JsonPropertyName("instances_alive")] int InstancesAlive);

    /// <summary>The <c>totals_source</c> values.</summary>
    public static class TotalsSources
    {
        public const string Store = "store + this instance's unflushed usage";
        public const string Stale = "stale: last store read + this instance's usage since";
    }

    public sealed record KeyGroupStats(
        [property: JsonPropertyName("key_group")] int KeyGroup,
        [property: JsonPropertyName("masked_key")] string MaskedKey,
        [property: JsonPropertyName("team")] string Team,
        [property: JsonPropertyName("state")] string State,
        [property: JsonPropertyName("state_reason")] string? StateReason,
        [property: JsonPropertyName("user_count")] long UserCount,
        [property: JsonPropertyName("total_requests")] long TotalRequests,
        [property: JsonPropertyName("total_tokens")] long TotalTokens,
        [property: JsonPropertyName("prompt_tokens")] long PromptTokens,
        [property: JsonPropertyName("completion_tokens")] long CompletionTokens,
        [property: JsonPropertyName("reasoning_tokens")] long ReasoningTokens,
        [property: JsonPropertyName("cached_tokens")] long CachedTokens,
        [property: JsonPropertyName("errors_4xx")] long Errors4xx,
        [property: JsonPropertyName("errors_429")] long Errors429,
        [property: JsonPropertyName("errors_5xx")] long Errors5xx,
        [property: JsonPropertyName("spills_in")] long SpillsIn,
        [property: JsonPropertyName("rejected")] long Rejected,
        [property: JsonPropertyName("rpm_used")] long RpmUsed,
        [property: JsonPropertyName("rpm_limit")] int RpmLimit,
        [property: JsonPropertyName("tpm_used")] long TpmUsed,
        [property: JsonPropertyName("tpm_limit")] long TpmLimit,
        [property: JsonPropertyName("load_percent")] double LoadPercent,
        [property: JsonPropertyName("last_request_at")] DateTimeOffset? LastRequestAt)
    {
        /// <summary>Money of this group: cost, the estimated part, cache share and what stickiness saved.</summary>
        [JsonPropertyName("cost")] public Usage.CostFigures? Cost { get; init; }

        /// <summary>Why a <c>cooling</c> key rests: <c>rate_limited</c> or <c>circuit_open</c>; null otherwise.</summary>
        [JsonPropertyName("state_detail")] public string? StateDetail { get; init; }
    }

    public static RouteGroupBuilder MapHealth(this RouteGroupBuilder admin)
    {
        admin.MapGet("/api-keys/health", GetAsync);
        return admin;
    }

    private static async Task<IResult> GetAsync(
        KeyPoolRouter router, UserCounts users, PoolTotals poolTotals, UsageRecorder usage, ProxyGate gate, IOptions<CapacityOptions> capacity, ClusterHealth cluster,
        ForwardedHeadersCheck forwarded, CancellationToken cancellationToken, long? targetUsers = null)
    {
        var pool = router.Pool;
        var reports = PoolReport.Keys(pool, router.Second);
        var counted = await users.ReadAsync(cancellationToken);
        var userCounts = counted.ByGroup;
        // Read before the totals: a refresh between the two reads can only make the stamp look older than the figures.
        var totalsAsOf = poolTotals.AsOf;
        var totalsStaleSince = poolTotals.StaleSince;
        var totals = reports.Select(r => poolTotals.Totals(r.Group)).ToArray();
        var allRequests = totals.Sum(t => t.Requests);
        var stats = reports.Zip(totals, (report, total) => new KeyGroupStats(
            report.Group,
            report.MaskedKey,
            report.Team,
            KeyStateNames.Of(report.State),
            report.Reason,
            userCounts.GetValueOrDefault(report.Group),
            total.Requests,
            total.TotalTokens,
            total.PromptTokens,
            total.CompletionTokens,
            total.ReasoningTokens,
            total.CachedTokens,
            total.Errors4xx,
            total.Errors429,
            total.Errors5xx,
            report.SpillsIn,
            report.Rejections,
            report.RequestsUsed,
            report.RequestsLimit,
            report.TokensUsed,
            report.TokensLimit,
            allRequests == 0 ? 0 : Math.Round(100.0 * total.Requests / allRequests, 2),
            total.LastRequestAt) { Cost = Usage.CostFigures.Of(total), StateDetail = KeyStateNames.Detail(report.State) }).ToArray();
        // Users sit in groups whose key is gone: their requests spill; `keypool rebalance` moves them.
        var missing = userCounts.Keys.Where(g => pool.Find(g) is null).Order().ToArray();
        var health = PoolReport.Grade(pool, reports, capacity.Value);
        if (cluster.DegradedReason is { } reason)
        {
            // Still serving, on a 1/N share of every budget: say so instead of the capacity grade.
            health = health with { Status = HealthStatuses.Degraded, Message = $"Shared state unavailable ({reason}): each of {cluster.Instances} instances serves 1/{cluster.Instances} of every budget. {health.Message}" };
        }
        var quality = RoutingQuality.Of(router, router.Second);
        var facts = new PoolFacts(router.Policy.Name, router.Rejected, PoolReport.SharedTeams(pool).ToArray(), missing, router.LastChange?.Change, router.LastChange?.At)
        {
            StickyRatio = quality.StickyRatio,
            GoodputRatio = quality.GoodputRatio,
            Quality = quality,
            UserCountsStaleSince = counted.Stale ? counted.ReadAt : null,
            TotalsAsOf = totalsAsOf,
            TotalsSource = totalsStaleSince is null ? TotalsSources.Store : TotalsSources.Stale,
            TotalsStaleSince = totalsStaleSince,
            Cost = Usage.CostFigures.Sum(totals),
            CostByTeam = Usage.CostFigures.ByTeam(reports.Select(r => r.Team), totals),
        };
        var instance = new InstanceFacts(gate.InFlight, reports.Sum(r => usage.Totals(r.Group).Requests), cluster.Instances);
        var measured = MeasuredCapacity.Of(router.Demand, pool, router.Second, targetUsers is > 0 ? targetUsers : null);
        return TypedResults.Ok(new HealthResponse(true, health, stats, facts) { Measured = measured, Instance = instance, Warnings = forwarded.Warning is { } warning ? [warning] : [] });
    }
}
