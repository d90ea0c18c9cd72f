using KeyPool.Core.Routing;
using KeyPool.Core.Health;
using KeyPool.Hosting;

namespace KeyPool.Usage;

/// <summary>Feeds <see cref="RequestHistory"/> from the usage totals every few seconds, off the request path.</summary>
internal sealed class RequestHistorySampler(RequestHistory history, KeyPoolRouter router, PoolTotals usage, TimeProvider time, ILogger<RequestHistorySampler> logger) : PeriodicService(time, logger)
{
    /// <summary>Often enough that a minute's column is right within seconds; readers also sample, so the chart is never stale.</summary>
    public static readonly TimeSpan SampleInterval = TimeSpan.FromSeconds(5);

    protected override TimeSpan Interval => SampleInterval;

    /// <summary>Takes one sample now.</summary>
    public void SampleNow() =>
        history.Sample(Time.GetUtcNow(), router.Pool.Members.Select(m => (m.Group, usage.Totals(m.Group).Requests)));

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        // Registered after the start-up that loads stored totals: this first sample is the baseline.
        SampleNow();
        return base.StartAsync(cancellationToken);
    }

    protected override Task TickAsync(CancellationToken cancellationToken)
    {
        SampleNow();
        return Task.CompletedTask;
    }
}
