using KeyPool.Core.Cluster;
using KeyPool.Core.Users;
using KeyPool.Core.Routing;

namespace KeyPool.Admin;

/// <summary><c>POST /api/admin/rebalance?dryRun=true</c>: the same plan and moves as <c>keypool rebalance</c>.</summary>
internal static class RebalanceApi
{
    public sealed record RebalanceResponse(bool DryRun, long Planned, long Moved, IReadOnlyDictionary<int, long> MovesOut, IReadOnlyDictionary<int, long> MovesIn);

    public static RouteGroupBuilder MapRebalance(this RouteGroupBuilder admin)
    {
        admin.MapPost("/rebalance", RebalanceAsync);
        return admin;
    }

    private static async Task<IResult> RebalanceAsync(bool? dryRun, KeyPoolRouter router, IUserRebalancer rebalancer, UserGroupCache cache, IClusterBus cluster, CancellationToken cancellationToken)
    {
        var result = await rebalancer.RebalanceAsync(router.Pool.Ring.Groups, dryRun ?? false, 50_000, null, cancellationToken);
        if (result.Moved > 0)
        {
            cache.Clear(); // moved users must be read again, here and on every other instance
            cluster.Publish(new ClusterEvent(ClusterEventKind.UsersMoved));
        }
        return TypedResults.Ok(new RebalanceResponse(dryRun ?? false, result.Plan.Moves, result.Moved, result.Plan.Give, result.Plan.Take));
    }
}
