using KeyPool.Configuration;
using KeyPool.Core.Cluster;
using KeyPool.Core.Limits;
using Microsoft.Extensions.Options;

namespace KeyPool.Limits;

/// <summary>
/// The tiers' per-user limits (<c>KeyPool:Tiers:&lt;tier&gt;</c>) applied through the <see cref="UserLimiter"/>. With
/// several instances each enforces its share of every limit (limit / live instances, rounded up): a load balancer that
/// spreads a user's requests over the instances gives them about the whole limit, without a Redis round-trip per request.
/// </summary>
internal sealed class TierLimits : IDisposable
{
    private readonly UserLimiter _limiter;
    private readonly ClusterHealth _cluster;
    private readonly string _defaultTier;
    private readonly IDisposable? _subscription;
    private volatile Dictionary<string, UserLimits> _byTier;

    public TierLimits(UserLimiter limiter, ClusterHealth cluster, IOptionsMonitor<Dictionary<string, TierOptions>> tiers, IOptions<UsersOptions> users, TierSpendLimits spend)
    {
        Spend = spend;
        _limiter = limiter;
        _cluster = cluster;
        _defaultTier = users.Value.DefaultTier;
        _byTier = Build(tiers.CurrentValue);
        _subscription = tiers.OnChange(changed => _byTier = Build(changed));
    }

    /// <summary>The tiers' spend limits in money (<c>UsdPerDay</c>, <c>UsdPerMonth</c>).</summary>
    public TierSpendLimits Spend { get; }

    /// <summary>The limits of <paramref name="tier"/> (none for a tier without a section).</summary>
    public UserLimits For(string tier) => _byTier.GetValueOrDefault(tier);

    /// <summary>True for a configured tier or the default tier (which needs no section).</summary>
    public bool IsKnown(string tier) => _byTier.ContainsKey(tier) || string.Equals(tier, _defaultTier, StringComparison.Ordinal);

    /// <summary>The tiers a user may be given.</summary>
    public IEnumerable<string> Known => _byTier.Keys.Append(_defaultTier).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal);

    /// <summary>Admits one request of <paramref name="userId"/> (tier <paramref name="tier"/>) costing about <paramref name="tokens"/>.</summary>
    public UserLimitDecision TryAcquire(string userId, string tier, long tokens) =>
        _byTier.TryGetValue(tier, out var limits) && limits.Any
            ? _limiter.TryAcquire(userId, limits, tokens, _cluster.Instances)
            : default; // most tiers have no limit: one dictionary lookup, no counter

    /// <summary>What the client is told when <paramref name="decision"/> refused a request.</summary>
    public static string Message(in UserLimitDecision decision, string tier) => decision.Exceeded switch
    {
        UserLimitKind.RequestsPerMinute => $"User requests per minute limit ({decision.Limit}) of tier {tier} reached. Retry after {decision.RetryAfterSeconds} s.",
        UserLimitKind.TokensPerMinute => $"User tokens per minute limit ({decision.Limit}) of tier {tier} reached (tokens are reserved from the request's size and max_tokens). Retry after {decision.RetryAfterSeconds} s.",
        _ => $"User tokens per day limit ({decision.Limit}) of tier {tier} reached (tokens are reserved from the request's size and max_tokens). It resets at 00:00 UTC, in {decision.RetryAfterSeconds} s.",
    };

    public void Dispose() => _subscription?.Dispose();

    private static Dictionary<string, UserLimits> Build(Dictionary<string, TierOptions> tiers) =>
        tiers.ToDictionary(t => t.Key, t => new UserLimits(t.Value.RequestsPerMinute, t.Value.TokensPerMinute, t.Value.TokensPerDay), StringComparer.Ordinal);
}
