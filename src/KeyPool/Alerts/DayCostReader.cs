using KeyPool.Core.Money;
using KeyPool.Core.Usage;
using Microsoft.Extensions.Options;

namespace KeyPool.Alerts;

/// <summary>
/// The pool's upstream cost of the current UTC day for the <c>daily_cost</c> alert: what every instance flushed to the
/// store plus this instance's unflushed part. Read by the alert loop every <see cref="AlertOptions.CostCheckInterval"/>
/// (a sum over the day's rows, too dear for every second), at once when the UTC day turns; only when the alert is set.
/// </summary>
internal sealed partial class DayCostReader(
    UserUsageRecorder recorder,
    IOptions<AlertOptions> options,
    TimeProvider time,
    ILogger<DayCostReader> logger,
    IUserUsageStore? store = null)
{
    // A store that hangs must not hold the alert loop: the other conditions are judged on the last figure meanwhile.
    private static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(10);

    private DateOnly _day;
    private long? _ticks;
    private long _readAt;
    private bool _failing;

    /// <summary>Today's cost in USD, or null when the alert is off, no store records usage, or today's could not be read yet.</summary>
    public async Task<decimal?> ReadAsync(CancellationToken cancellationToken)
    {
        if (options.Value.DailyCostAbove is null || store is null)
        {
            return null;
        }
        var today = DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);
        if (today != _day)
        {
            (_day, _ticks) = (today, null);
        }
        if (_ticks is null || time.GetElapsedTime(_readAt) >= options.Value.CostCheckInterval)
        {
            await RefreshAsync(today, cancellationToken);
        }
        return _ticks is { } ticks ? UsdTicks.ToUsd(ticks) : null;
    }

    private async Task RefreshAsync(DateOnly today, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ReadTimeout);
        try
        {
            _ticks = await recorder.ReadDayCostAsync(store!, today, timeout.Token);
            _readAt = time.GetTimestamp();
            _failing = false;
        }
        catch (Exception exception) when (!cancellationToken.IsCancellationRequested)
        {
            // Logged once per outage; the store_unreachable alert speaks for the store itself.
            if (!_failing)
            {
                _failing = true;
                LogReadFailed(logger, exception);
            }
        }
    }

    [LoggerMessage(1914, LogLevel.Warning, "The day's cost could not be read from the store for the daily_cost alert: judged on the last figure read until it can")]
    private static partial void LogReadFailed(ILogger logger, Exception exception);
}
