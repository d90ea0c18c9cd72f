using KeyPool.Configuration;
using KeyPool.Core.Health;
using KeyPool.Core.Usage;
using KeyPool.Hosting;
using KeyPool.Proxy;
using Microsoft.Extensions.Options;

namespace KeyPool.Usage;

/// <summary>
/// Writes in-memory usage to the store every interval (≤ 1 s) and once more on shutdown: the totals per key
/// group, then the rows per user per day. Each keeps its counts in memory when the store fails.
/// </summary>
internal sealed class UsageFlushService(
    PoolTotals poolTotals,
    UserUsageRecorder userRecorder,
    IUsageStore store,
    IUserUsageStore userStore,
    ProxyGate gate,
    IOptions<UsageOptions> options,
    TimeProvider time,
    ILogger<UsageFlushService> logger) : PeriodicService(time, logger)
{
    private long _droppedLogged;

    protected override TimeSpan Interval => options.Value.FlushInterval;

    protected override Task TickAsync(CancellationToken cancellationToken) => FlushAsync(cancellationToken);

    // Bounds the wait for requests cut at the drain deadline and the last flush, on the wall clock like the host's own
    // shutdown time (a fake clock in tests must not hold a stop forever): a store that hangs must not keep the process.
    private static readonly TimeSpan LastFlushTimeout = TimeSpan.FromSeconds(5);

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        // Kestrel has stopped (it stops first); requests it cut at the drain deadline are still unwinding and record their
        // usage as they end. The host's token is already cancelled when the drain used up the shutdown time, so the last
        // flush has a token of its own.
        using var last = new CancellationTokenSource(LastFlushTimeout);
        try
        {
            await gate.WhenIdleAsync(last.Token);
        }
        catch (OperationCanceledException)
        {
            Log.UsageFlushBeforeIdle(logger, gate.InFlight);
        }
        await FlushAsync(last.Token);
    }

    private async Task FlushAsync(CancellationToken cancellationToken)
    {
        try
        {
            // The pool's totals are read again after every flush, so every instance shows the store's figures within a second.
            await poolTotals.FlushAndRefreshAsync(store, cancellationToken);
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
