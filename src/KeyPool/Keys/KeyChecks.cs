using KeyPool.Core.Routing;
using KeyPool.Hosting;

namespace KeyPool.Keys;

/// <summary>At start, learns every key's team from the upstream and takes unusable keys out, within a bounded time.</summary>
internal static class KeyChecksOnStart
{
    public static async Task RunAsync(KeyRingProvider keys, KeyPoolRouter router, UpstreamKeyCheck check, TimeSpan budget, ILogger logger, CancellationToken cancellationToken)
    {
        var ring = keys.Current;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(budget);
        var results = await Task.WhenAll(ring.Keys.Select(async key => (key.Group, Check: await check.CheckAsync(key, timeout.Token))));
        var teams = results.Where(r => r.Check?.Team is not null).ToDictionary(r => r.Group, r => r.Check!.Team!);
        router.Load(ring, teams);
        foreach (var (group, result) in results)
        {
            if (result?.Problem is { } problem && router.Pool.Find(group) is { } member && member.Health.Revoke(problem))
            {
                Log.KeyCheckProblem(logger, group, problem);
            }
        }
        foreach (var sentence in Core.Health.PoolReport.SharedTeams(router.Pool))
        {
            Log.SharedTeam(logger, sentence);
        }
    }
}
