using KeyPool.Core.Routing;
using KeyPool.Core.Storage;

namespace KeyPool.Storage;

/// <summary>
/// Keeps the store's record of usable key groups (present, not revoked) equal to this gateway's pool, so
/// <c>get_next_api_key_group()</c> and the sign-up trigger in the database assign only groups that work.
/// Checks every second and writes only when the set changed: at start, after a reload, a revocation or a
/// revoked key coming back. A failed write is logged and retried on the next check.
/// </summary>
internal sealed class UsableGroupsPublisher(
    KeyPoolRouter router, IUsableGroupStore store, IHostApplicationLifetime lifetime, TimeProvider time, ILogger<UsableGroupsPublisher> logger) : BackgroundService
{
    internal static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    private int[]? _published;
    private bool _failing;

    /// <summary>Groups of the current pool whose key is not revoked, ascending.</summary>
    internal static int[] UsableGroups(PoolSnapshot pool) =>
        pool.Members.Where(m => m.Health.RevokedReason is null).Select(m => m.Group).Order().ToArray();

    /// <summary>Writes the usable groups when they differ from what was last written; true when written.</summary>
    internal async Task<bool> PublishAsync(CancellationToken cancellationToken)
    {
        var usable = UsableGroups(router.Pool);
        if (!_failing && _published is not null && usable.AsSpan().SequenceEqual(_published))
        {
            return false;
        }
        try
        {
            await store.SetUsableGroupsAsync(usable, cancellationToken);
            _published = usable;
            _failing = false;
            StoreLog.UsableGroupsPublished(logger, string.Join(", ", usable));
            return true;
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            // Never let a background write stop the host: the store may be down, or being migrated.
            if (!_failing)
            {
                StoreLog.UsableGroupsFailed(logger, exception.Message); // once per outage, not every second
            }
            _failing = true;
            return false;
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // The schema is created or checked by the start-up services; writing before they finish could meet no table.
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
        using (stoppingToken.Register(() => started.TrySetCanceled(stoppingToken)))
        {
            try
            {
                await started.Task;
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
        using var timer = new PeriodicTimer(Interval, time);
        try
        {
            do
            {
                await PublishAsync(stoppingToken);
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
