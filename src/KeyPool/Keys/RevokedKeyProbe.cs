using KeyPool.Core.KeyHealth;
using KeyPool.Core.Routing;
using KeyPool.Hosting;
using Microsoft.Extensions.Options;

namespace KeyPool.Keys;

/// <summary>Asks the upstream now and then whether revoked keys are back, and puts them back when they are.</summary>
internal sealed class RevokedKeyProbe(
    KeyPoolRouter router, UpstreamKeyCheck check, IOptions<KeyHealthOptions> options, TimeProvider time, ILogger<RevokedKeyProbe> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.RevokedProbeInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await ProbeAsync(stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    public async Task ProbeAsync(CancellationToken cancellationToken)
    {
        foreach (var member in router.Pool.Members.Where(m => m.Health.State == KeyState.Revoked))
        {
            if (await check.CheckAsync(member.Key, cancellationToken) is { Problem: null })
            {
                member.Health.Reenable();
                Log.KeyReenabled(logger, member.Group);
            }
        }
    }
}
