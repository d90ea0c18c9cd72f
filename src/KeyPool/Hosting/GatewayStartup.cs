using KeyPool.Configuration;
using KeyPool.Core.Health;
using KeyPool.Core.Outcomes;
using KeyPool.Core.Routing;
using KeyPool.Core.Usage;
using KeyPool.Core.Users;
using KeyPool.Keys;
using KeyPool.Models;
using Microsoft.Extensions.Options;

namespace KeyPool.Hosting;

/// <summary>Runs before the server listens: creates the schema, loads usage totals, reports and checks the keys.</summary>
internal sealed class GatewayStartup(
    IUserStore users,
    IUsageStore usageStore,
    PoolTotals poolTotals,
    KeySet keys,
    KeyPoolRouter router,
    KeyHealthUpdater health,
    UpstreamKeyCheck check,
    ModelListRefresher models,
    IOptions<KeysOptions> keysOptions,
    ILogger<GatewayStartup> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await users.InitializeAsync(cancellationToken);
        await usageStore.InitializeAsync(cancellationToken);
        // The pool's totals are read before the first request; per-instance counts (the metrics) start at zero.
        if (!await poolTotals.RefreshAsync(usageStore, cancellationToken))
        {
            throw new InvalidOperationException("The usage totals could not be read from the store.");
        }
        var ring = router.Pool.Ring;
        Log.KeysDetected(logger, ring.Count, string.Join(", ", ring.Groups));
        foreach (var warning in keys.Warnings)
        {
            Log.KeyWarning(logger, warning);
        }
        if (keysOptions.Value.CheckOnStart)
        {
            await KeyChecks.RunAsync(ring.Keys, health, check, keysOptions.Value.CheckTimeout, logger, cancellationToken);
            foreach (var sentence in PoolReport.SharedTeams(router.Pool))
            {
                Log.SharedTeam(logger, sentence);
            }
        }
        await models.RefreshAsync(cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
