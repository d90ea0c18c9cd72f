using KeyPool.Core.Capacity;
using KeyPool.Core.Cluster;
using KeyPool.Core.Health;
using KeyPool.Core.Routing;
using KeyPool.Core.Usage;
using KeyPool.Hosting;
using KeyPool.Proxy;
using KeyPool.Redis.Connections;
using KeyPool.Telemetry;
using Microsoft.Extensions.Options;

namespace KeyPool.Alerts;

/// <summary>
/// Each second, reads the gateway's state (keys, shared state, store, headroom, upstream 429s, the day's cost), judges the
/// conditions and hands what began or ended to the webhooks. In a cluster every instance judges, and the one holding the
/// sender lease (<see cref="IAlertLease"/>) sends; when it stops, another takes the lease at its next check. Requests
/// are never involved: the request path only changes state.
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
    TimeProvider time,
    ILogger<AlertService> logger) : PeriodicService(time, logger)
{
    private readonly AlertRules _rules = new(options.Value);
    private readonly AlertBook _book = new(options.Value.RepeatInterval);
    // Messages judged while another instance was the sender, kept for one lease time in case it vanished meanwhile.
    private readonly List<AlertMessage> _unsent = [];

    // Long enough that a busy check or a slow Redis does not pass the turn around; short enough that a crashed sender is replaced within seconds.
    private TimeSpan LeaseTtl => Interval * 5 > MinLeaseTtl ? Interval * 5 : MinLeaseTtl;

    private static readonly TimeSpan MinLeaseTtl = TimeSpan.FromSeconds(5);

    protected override TimeSpan Interval => options.Value.CheckInterval > TimeSpan.Zero ? options.Value.CheckInterval : TimeSpan.FromSeconds(1);

    protected override async Task TickAsync(CancellationToken cancellationToken)
    {
        if (!delivery.Enabled)
        {
            return;
        }
        await CheckAsync(cancellationToken);
    }

    /// <summary>One check: the messages it produced (queued for the webhooks when this instance is the sender).</summary>
    public async Task<IReadOnlyList<AlertMessage>> CheckAsync(CancellationToken cancellationToken)
    {
        var now = Time.GetUtcNow();
        var costToday = await dayCost.ReadAsync(cancellationToken);
        var messages = _book.Update(_rules.Evaluate(ReadFacts(costToday), now), now, instance.Value);
        // Every instance keeps its book (so a new sender knows what was announced and resolves it); one sends.
        var turn = await lease.HoldAsync(LeaseTtl, cancellationToken);
        if (turn == LeaseTurn.Refused)
        {
            _unsent.AddRange(messages);
            _unsent.RemoveAll(m => now - m.Time > LeaseTtl + Interval);
            return messages;
        }
        if (turn == LeaseTurn.TakenFree)
        {
            // The last sender vanished (no hand-over): what this instance judged while its lease ran out may never have
            // gone. Sent again rather than lost; a clean stop hands over and repeats nothing.
            foreach (var message in _unsent)
            {
                delivery.Enqueue(message);
            }
        }
        _unsent.Clear();
        foreach (var message in messages)
        {
            delivery.Enqueue(message);
        }
        return messages;
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        if (delivery.Enabled)
        {
            await lease.ReleaseAsync(LeaseTtl, CancellationToken.None); // bounded by the lease's own timeout, even when the host's time is up
        }
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
