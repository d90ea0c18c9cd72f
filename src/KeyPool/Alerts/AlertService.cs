using KeyPool.Core.Capacity;
using KeyPool.Core.Cluster;
using KeyPool.Core.Health;
using KeyPool.Core.Routing;
using KeyPool.Core.Usage;
using KeyPool.Hosting;
using KeyPool.Proxy;
using KeyPool.Telemetry;
using Microsoft.Extensions.Options;

namespace KeyPool.Alerts;

/// <summary>
/// Each second, reads the gateway's state (keys, shared state, store, headroom, upstream 429s, the day's cost), judges the
/// conditions and hands what began or ended to the webhooks. In a cluster each message is sent by the one instance
/// that takes its lease (<see cref="IAlertLease"/>). Requests are never involved: the request path only changes state.
/// </summary>
internal sealed class AlertService(
    KeyPoolRouter router,
    UsageRecorder usage,
    ClusterHealth cluster,
    PoolTotals totals,
    AlertDelivery delivery,
    DayCostReader dayCost,
    IAlertLease lease,
    InstanceName instance,
    IOptions<AlertOptions> options,
    TimeProvider time) : PeriodicService(time)
{
    private readonly AlertRules _rules = new(options.Value);
    private readonly AlertBook _book = new(options.Value.RepeatInterval);

    protected override TimeSpan Interval => options.Value.CheckInterval > TimeSpan.Zero ? options.Value.CheckInterval : TimeSpan.FromSeconds(1);

    protected override async Task TickAsync(CancellationToken cancellationToken)
    {
        if (!delivery.Enabled)
        {
            return;
        }
        await CheckAsync(cancellationToken);
    }

    /// <summary>One check: the messages it produced (also queued for the webhooks).</summary>
    public async Task<IReadOnlyList<AlertMessage>> CheckAsync(CancellationToken cancellationToken)
    {
        var now = Time.GetUtcNow();
        var costToday = await dayCost.ReadAsync(cancellationToken);
        var messages = _book.Update(_rules.Evaluate(ReadFacts(costToday), now), now, instance.Value);
        foreach (var message in messages)
        {
            // Firing and resolved of one condition are leased apart, for one repeat interval: one instance speaks each.
            if (await lease.TryTakeAsync($"alert:{message.Id}:{message.Status}", options.Value.RepeatInterval, cancellationToken))
            {
                delivery.Enqueue(message);
            }
        }
        return messages;
    }

    private AlertFacts ReadFacts(decimal? costToday)
    {
        var pool = router.Pool;
        var second = router.Second;
        var keys = PoolReport.Keys(pool, second)
            .Select(k => k.Reason is { } reason ? k with { Reason = SecretScrubber.Scrub(reason, pool.Ring) } : k)
            .ToArray();
        var rateLimited = keys.ToDictionary(k => k.Group, k => usage.Totals(k.Group).Errors429);
        var headroom = options.Value.HeadroomBelow is null ? null : MeasuredCapacity.Of(router.Demand, pool, second).Headroom;
        return new AlertFacts(keys, rateLimited, cluster.DegradedReason, totals.StaleSince, headroom, costToday);
    }
}
