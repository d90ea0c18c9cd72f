using KeyPool.Configuration;
using KeyPool.Core.Cluster;
using KeyPool.Core.Limits;
using KeyPool.Core.Money;
using Microsoft.Extensions.Options;

namespace KeyPool.Limits;

/// <summary>
/// The tiers' spend limits in money (<c>KeyPool:Tiers:&lt;tier&gt;:UsdPerDay</c>, <c>UsdPerMonth</c>) applied through the
/// <see cref="SpendLimiter"/>: the request's cost is estimated at admission by the <see cref="CostEstimator"/> (the price
/// table, else the model's recent cost per token learned from the upstream's <c>cost_in_usd_ticks</c>) and settled with
/// the real cost. With several instances each enforces limit / live instances, like the token limits.
/// </summary>
internal sealed class TierSpendLimits : IDisposable
{
    private readonly SpendLimiter _limiter;
    private readonly ClusterHealth _cluster;
    private readonly IDisposable? _subscription;
    private volatile Dictionary<string, SpendLimits> _byTier;

    public TierSpendLimits(SpendLimiter limiter, CostEstimator estimator, ClusterHealth cluster, IOptionsMonitor<Dictionary<string, TierOptions>> tiers)
    {
        _limiter = limiter;
        Estimator = estimator;
        _cluster = cluster;
        _byTier = Build(tiers.CurrentValue);
        _subscription = tiers.OnChange(changed => _byTier = Build(changed));
    }

    /// <summary>What a request is expected to cost: the amount reserved at admission.</summary>
    public CostEstimator Estimator { get; }

    /// <summary>
    /// Admits one request of <paramref name="userId"/> (tier <paramref name="tier"/>) for <paramref name="model"/> reserving
    /// the cost of about <paramref name="promptTokens"/> in and <paramref name="completionTokens"/> out; most tiers have no
    /// spend limit: one dictionary lookup, nothing held.
    /// </summary>
    public SpendDecision TryAcquire(string userId, string tier, string? model, long promptTokens, long completionTokens) =>
        _byTier.TryGetValue(tier, out var limits) && limits.Any
            ? _limiter.TryAcquire(userId, limits, Estimator.Estimate(model, promptTokens, completionTokens), _cluster.Instances)
            : default;

    /// <summary>What the client is told when <paramref name="decision"/> refused a request.</summary>
    public static string Message(in SpendDecision decision, string tier)
    {
        var usd = UsdTicks.ToUsd(decision.LimitTicks);
        var (period, boundary) = decision.Exceeded == "month" ? ("month", "the 1st of next month, 00:00 UTC") : ("day", "00:00 UTC");
        return string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"User spend limit per {period} (${usd:0.########}) of tier {tier} reached. It resets at {boundary}, in {decision.RetryAfterSeconds} s.");
    }

    public void Dispose() => _subscription?.Dispose();

    private static Dictionary<string, SpendLimits> Build(Dictionary<string, TierOptions> tiers) =>
        tiers.ToDictionary(t => t.Key, t => SpendLimits.FromUsd(t.Value.UsdPerDay, t.Value.UsdPerMonth), StringComparer.Ordinal);
}
