using KeyPool.Core.StoredObjects;
using Microsoft.Extensions.Options;

namespace KeyPool.StoredObjects;

/// <summary>
/// Creates the store's table before the server listens, then writes new owners as soon as they are recorded (one
/// round-trip per batch, so another instance finds them within milliseconds), purges expired ones every
/// <see cref="StoredObjectsOptions.PurgeInterval"/>, and writes what is left on shutdown.
/// </summary>
internal sealed class StoredObjectWriter(
    IStoredObjectStore store,
    StoredObjectDirectory directory,
    IOptions<StoredObjectsOptions> options,
    TimeProvider time,
    ILogger<StoredObjectWriter> logger) : BackgroundService
{
    // After a failed write the next try waits this long: a store that is down is not hammered.
    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan LastFlushTimeout = TimeSpan.FromSeconds(5);

    private long _droppedLogged;

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        await store.InitializeAsync(cancellationToken);
        await base.StartAsync(cancellationToken);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        using var last = new CancellationTokenSource(LastFlushTimeout);
        await FlushAsync(last.Token);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var nextPurge = time.GetUtcNow() + options.Value.PurgeInterval;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                if (directory.Pending == 0)
                {
                    await WaitForWorkOrPurgeAsync(nextPurge, stoppingToken);
                }
                if (!await FlushAsync(stoppingToken))
                {
                    await Task.Delay(RetryDelay, time, stoppingToken);
                }
                if (time.GetUtcNow() >= nextPurge)
                {
                    nextPurge = time.GetUtcNow() + options.Value.PurgeInterval;
                    await PurgeAsync(stoppingToken);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task WaitForWorkOrPurgeAsync(DateTimeOffset nextPurge, CancellationToken stoppingToken)
    {
        var untilPurge = nextPurge - time.GetUtcNow();
        if (untilPurge <= TimeSpan.Zero)
        {
            return;
        }
        using var purgeDue = new CancellationTokenSource(untilPurge, time);
        using var wake = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, purgeDue.Token);
        try
        {
            await directory.WaitForWorkAsync(wake.Token);
        }
        catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
        {
            // Time to purge.
        }
    }

    private async Task<bool> FlushAsync(CancellationToken cancellationToken)
    {
        var ok = true;
        try
        {
            await directory.FlushAsync(cancellationToken);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            StoredObjectsLog.WriteFailed(logger, directory.Pending, exception);
            ok = false;
        }
        var dropped = directory.Dropped;
        if (dropped != _droppedLogged)
        {
            _droppedLogged = dropped;
            StoredObjectsLog.Dropped(logger, dropped);
        }
        return ok;
    }

    private async Task PurgeAsync(CancellationToken cancellationToken)
    {
        try
        {
            var batch = Math.Max(1, options.Value.PurgeBatch);
            long purged = 0;
            int deleted;
            do
            {
                deleted = await directory.PurgeAsync(batch, cancellationToken);
                purged += deleted;
            }
            while (deleted == batch);
            StoredObjectsLog.Purged(logger, purged);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            StoredObjectsLog.PurgeFailed(logger, exception);
        }
    }
}

/// <summary>Log lines of the stored-object directory (event ids 80x).</summary>
internal static partial class StoredObjectsLog
{
    [LoggerMessage(800, LogLevel.Warning, "Owners of stored responses could not be written to the store ({Pending} pending, kept in memory and retried)")]
    public static partial void WriteFailed(ILogger logger, int pending, Exception exception);

    [LoggerMessage(801, LogLevel.Warning, "Owners of stored responses dropped so far because the store was down too long: {Dropped} (follow-ups of those fall back to the user's own key group)")]
    public static partial void Dropped(ILogger logger, long dropped);

    [LoggerMessage(802, LogLevel.Information, "Expired owners of stored responses purged from the store: {Purged}")]
    public static partial void Purged(ILogger logger, long purged);

    [LoggerMessage(803, LogLevel.Warning, "Expired owners of stored responses could not be purged (retried at the next interval)")]
    public static partial void PurgeFailed(ILogger logger, Exception exception);
}
