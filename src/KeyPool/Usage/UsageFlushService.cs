using KeyPool.Configuration;
using KeyPool.Core.Usage;
using KeyPool.Hosting;
using Microsoft.Extensions.Options;

namespace KeyPool.Usage;

/// <summary>
/// Writes in-memory usage to the store every interval (≤ 1 s) and once more on shutdown: the totals per key
/// group, then the rows per user per day. Each keeps its counts in memory when the store fails.
/// </summary>
internal sealed class UsageFlushService(
    UsageRecorder recorder,
    UserUsageRecorder userRecorder,
    IUsageStore store,
    IUserUsageStore userStore,
    IOptions<UsageOptions> options,
    TimeProvider time,
    ILogger<UsageFlushService> logger) : PeriodicService(time)
{
    private long _droppedLogged;

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
        try
        {
            await userRecorder.FlushAsync(userStore, cancellationToken);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            Log.UserUsageFlushFailed(logger, userRecorder.PendingRows, exception);
        }
        // Once per growth, not per second: the cap is only reached during a long outage.
        var dropped = userRecorder.DroppedRequests;
        if (dropped != _droppedLogged)
        {
            _droppedLogged = dropped;
            Log.UserUsageDropped(logger, userRecorder.PendingRows, dropped, userRecorder.DroppedTokens);
        }
    }
}
