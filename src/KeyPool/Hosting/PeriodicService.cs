namespace KeyPool.Hosting;

/// <summary>A background service that does one thing every interval on the injected clock (tests advance a fake one).</summary>
/// <remarks>
/// A tick that throws is logged and the next one runs: an exception escaping a background service stops the whole
/// host, and a flush, probe or alert check that failed once must not take the gateway down with it.
/// </remarks>
internal abstract class PeriodicService(TimeProvider time, ILogger logger) : BackgroundService
{
    protected TimeProvider Time { get; } = time;

    protected abstract TimeSpan Interval { get; }

    protected abstract Task TickAsync(CancellationToken cancellationToken);

    protected sealed override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, Time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await TickAsync(stoppingToken);
                }
                catch (Exception exception) when (exception is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
                {
                    Log.PeriodicTickFailed(logger, GetType().Name, exception);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
