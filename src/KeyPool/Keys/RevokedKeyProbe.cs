using KeyPool.Core.KeyHealth;
using KeyPool.Core.Outcomes;
using KeyPool.Core.Routing;
using KeyPool.Hosting;
using Microsoft.Extensions.Options;

namespace KeyPool.Keys;

/// <summary>Asks the upstream now and then whether revoked keys are back, and puts them back when they are.</summary>
internal sealed class RevokedKeyProbe(
    KeyPoolRouter router, KeyHealthUpdater health, UpstreamKeyCheck check, IOptions<KeyHealthOptions> options, TimeProvider time, ILogger<RevokedKeyProbe> logger) : PeriodicService(time, logger)
{
    protected override TimeSpan Interval => options.Value.RevokedProbeInterval;

    protected override Task TickAsync(CancellationToken cancellationToken) => ProbeAsync(cancellationToken);

    public async Task ProbeAsync(CancellationToken cancellationToken)
    {
        foreach (var member in router.Pool.Members.Where(m => m.Health.State == KeyState.Revoked))
        {
            if (await check.CheckAsync(member.Key, options.Value.RevokedProbeInterval, cancellationToken) is { Problem: null } && health.Reenable(member.Group))
            {
                Log.KeyReenabled(logger, member.Group);
            }
        }
    }
}
