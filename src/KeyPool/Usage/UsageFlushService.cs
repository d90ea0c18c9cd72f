using KeyPool.Configuration;
using KeyPool.Core.Usage;
using KeyPool.Hosting;
using Microsoft.Extensions.Options;

namespace KeyPool.Usage;

/// <summary>Writes in-memory usage to the store every interval (≤ 1 s) and once more on shutdown.</summary>
internal sealed class UsageFlushService(
    UsageRecorder recorder, IUsageStore store, IOptions<UsageOptions> options, TimeProvider time, ILogger<UsageFlushService> logger) : PeriodicService(time)
{
    protected override TimeSpan Interval => options.Value.FlushInterval;

    protected override Task TickAsync(CancellationToken cancellationToken) => FlushAsync(cancellationToken);

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        await FlushAsync(cancellationToken); // what the last second recorded
    }

    private async Task FlushAsync(CancellationToken cancellationToken)
    {
        try
        {
            await recorder.FlushAsync(store, cancellationToken);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            Log.UsageFlushFailed(logger, exception);
        }
    }
}
