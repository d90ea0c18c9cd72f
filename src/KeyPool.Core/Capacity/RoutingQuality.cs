using KeyPool.Core.KeyHealth;
using KeyPool.Core.Routing;

namespace KeyPool.Core.Capacity;

/// <summary>How well the pool served over the last minutes, for health.</summary>
/// <param name="StickyRatio">Share of admitted requests that went to the user's own key; null with no traffic.</param>
/// <param name="GoodputRatio">Admitted requests over what the budget had room for (see <see cref="RouteTotals.GoodputRatio"/>); null with no traffic.</param>
/// <param name="WindowSeconds">Seconds the figures cover.</param>
/// <param name="Admitted">Requests admitted in the window.</param>
/// <param name="Refused">Requests refused for lack of capacity in the window.</param>
/// <param name="PromisedRetries">Refused users holding a promised slot now.</param>
/// <param name="BurstNotes">Teams whose burst was tightened because the upstream enforces a finer window.</param>
public sealed record RoutingQuality(
    double? StickyRatio,
    double? GoodputRatio,
    int WindowSeconds,
    long Admitted,
    long Refused,
    int PromisedRetries,
    IReadOnlyList<string> BurstNotes)
{
    /// <summary>Reads the router's statistics and the pool's budgets at <paramref name="second"/>.</summary>
    public static RoutingQuality Of(KeyPoolRouter router, long second)
    {
        ArgumentNullException.ThrowIfNull(router);
        var pool = router.Pool;
        var totals = router.Stats.Totals(second);
        var goodput = totals.GoodputRatio(UsableRequestsPerMinute(pool));
        return new RoutingQuality(
            Round(totals.StickyRatio), Round(goodput), totals.Seconds, totals.Admitted, totals.Refused, router.Promises.Outstanding, BurstTightened(pool).ToArray());
    }

    /// <summary>Requests per minute of the teams that have a usable (not revoked) key, each team once.</summary>
    public static long UsableRequestsPerMinute(PoolSnapshot pool)
    {
        ArgumentNullException.ThrowIfNull(pool);
        long total = 0;
        foreach (var team in pool.Teams)
        {
            if (Array.Exists(team, m => m.Health.State != KeyState.Revoked))
            {
                total += team[0].Limits.RequestsPerMinute;
            }
        }
        return total;
    }

    /// <summary>Sentences such as "team t-1 (groups 3, 4): burst 80 → 20 requests: the upstream refused with room left in its minute".</summary>
    public static IEnumerable<string> BurstTightened(PoolSnapshot pool)
    {
        ArgumentNullException.ThrowIfNull(pool);
        foreach (var team in pool.Teams)
        {
            var tightest = pool.WindowsOf(team[0]).Where(w => w.Tightenings > 0).MinBy(w => w.BurstRequests);
            if (tightest is not null)
            {
                yield return $"team {team[0].Team} (groups {string.Join(", ", team.Select(m => m.Group))}): burst {tightest.Limits.BurstRequests} → {tightest.BurstRequests} requests: the upstream refused with room left in its minute";
            }
        }
    }

    private static double? Round(double? ratio) => ratio is { } r ? Math.Round(r, 4) : null;
}
