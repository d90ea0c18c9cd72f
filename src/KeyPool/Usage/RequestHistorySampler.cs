using KeyPool.Core.Routing;
using KeyPool.Core.Usage;

namespace KeyPool.Usage;

/// <summary>Feeds <see cref="RequestHistory"/> from the usage totals every few seconds, off the request path.</summary>
internal sealed class RequestHistorySampler(RequestHistory history, KeyPoolRouter router, UsageRecorder usage, TimeProvider time) : BackgroundService
{
    /// <summary>Often enough that a minute's column is right within seconds; readers also sample, so the chart is never stale.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);

    /// <summary>Takes one sample now.</summary>
    public void SampleNow() =>
        history.Sample(time.GetUtcNow(), router.Pool.Members.Select(m => (m.Group, usage.Totals(m.Group).Requests)));

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        // Registered after the start-up that loads stored totals: this first sample is the baseline.
        SampleNow();
        return base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                SampleNow();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
