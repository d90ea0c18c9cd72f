using KeyPool.Configuration;
using KeyPool.Core.Cluster;
using KeyPool.Core.Keys;
using KeyPool.Core.Outcomes;
using KeyPool.Core.Routing;
using KeyPool.Hosting;
using Microsoft.Extensions.Options;

namespace KeyPool.Keys;

/// <summary>
/// Re-reads the keys (environment and keys file) without a restart: added keys serve at once,
/// removed keys stop taking new requests while requests in flight finish on them. An invalid keys
/// file or an empty result keeps the current keys.
/// </summary>
internal sealed class KeyReloader(
    IConfiguration configuration,
    KeyPoolRouter router,
    KeyHealthUpdater health,
    UpstreamKeyCheck check,
    IOptions<KeysOptions> options,
    ILogger<KeyReloader> logger,
    IClusterBus cluster)
{
    /// <summary>The trigger of a reload another instance asked for: not announced again.</summary>
    public const string ClusterTrigger = "cluster";

    private readonly SemaphoreSlim _gate = new(1, 1);

    public sealed record Outcome(bool Applied, string Message, int TotalKeys);

    public async Task<Outcome> ReloadAsync(string trigger, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            // Environment variables are re-read by reloading the configuration root.
            (configuration as IConfigurationRoot)?.Reload();
            var next = KeySet.Load(configuration);
            if (next.Problems.Count > 0)
            {
                var problems = string.Join(" ", next.Problems);
                Log.KeyReloadRejected(logger, trigger, problems);
                return new Outcome(false, $"Keys unchanged: {problems}", router.Pool.Ring.Count);
            }
            if (next.Ring.Count == 0)
            {
                Log.KeyReloadRejected(logger, trigger, "no key would be left");
                return new Outcome(false, "Keys unchanged: the new configuration has no key.", router.Pool.Ring.Count);
            }
            foreach (var warning in next.Warnings)
            {
                Log.KeyWarning(logger, warning);
            }
            var diff = router.Load(next.Ring, groups: next.Groups);
            if (options.Value.CheckOnStart && (diff.Added.Count > 0 || diff.Replaced.Count > 0))
            {
                var fresh = diff.Added.Concat(diff.Replaced).Select(g => next.Ring.Find(g)!);
                await KeyChecks.RunAsync(fresh, health, check, options.Value.CheckTimeout, logger, cancellationToken);
            }
            Log.KeysReloaded(logger, trigger, diff.ToString(), next.Ring.Count);
            if (trigger != ClusterTrigger)
            {
                cluster.Publish(new ClusterEvent(ClusterEventKind.KeysReloaded)); // the other instances reload too
            }
            return new Outcome(true, diff.ToString(), next.Ring.Count);
        }
        finally
        {
            _gate.Release();
        }
    }
}
