using KeyPool.Core.Keys;
using KeyPool.Core.Routing;
using KeyPool.Hosting;

namespace KeyPool.Keys;

/// <summary>
/// Asks the upstream about some keys within a bounded time: their teams go into the pool, and keys
/// it reports unusable are taken out. Used at start (every key) and after a reload (new keys).
/// </summary>
internal static class KeyChecks
{
    public static async Task RunAsync(
        KeyRing ring, IEnumerable<UpstreamKey> keys, KeyPoolRouter router, UpstreamKeyCheck check, TimeSpan budget, ILogger logger, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(budget);
        var results = await Task.WhenAll(keys.Select(async key => (key.Group, Check: await check.CheckAsync(key, timeout.Token))));
        router.Load(ring, results.Where(r => r.Check?.Team is not null).ToDictionary(r => r.Group, r => r.Check!.Team!));
        foreach (var (group, result) in results)
        {
            if (result?.Problem is { } problem && router.Pool.Find(group) is { } member && member.Health.Revoke(problem))
            {
                Log.KeyCheckProblem(logger, group, problem);
            }
        }
    }
}
