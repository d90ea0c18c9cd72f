using KeyPool.Core.Usage;
using KeyPool.Core.Users;
using KeyPool.Keys;

namespace KeyPool.Hosting;

/// <summary>Runs before the server listens: creates the schema, loads usage totals, reports the keys.</summary>
internal sealed class GatewayStartup(
    IUserStore users, IUsageStore usageStore, UsageRecorder recorder, KeyRingProvider keys, ILogger<GatewayStartup> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await users.InitializeAsync(cancellationToken);
        await usageStore.InitializeAsync(cancellationToken);
        recorder.LoadTotals(await usageStore.ReadAllAsync(cancellationToken));
        var ring = keys.Current;
        Log.KeysDetected(logger, ring.Count, string.Join(", ", ring.Groups));
        foreach (var warning in keys.Discovery.Warnings)
        {
            Log.KeyWarning(logger, warning);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
