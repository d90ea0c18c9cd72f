using KeyPool.Redis.Connections;
using KeyPool.Telemetry;

namespace KeyPool.Alerts;

/// <summary>Who sends the alerts when several instances see the same conditions: the one instance holding the sender lease.</summary>
internal interface IAlertLease
{
    /// <summary>Takes or renews the sender lease for <paramref name="ttl"/>; how this instance stands now.</summary>
    Task<LeaseTurn> HoldAsync(TimeSpan ttl, CancellationToken cancellationToken);

    /// <summary>Hands the lease over on a stop, so another instance sends from its next check.</summary>
    Task ReleaseAsync(TimeSpan ttl, CancellationToken cancellationToken);
}

/// <summary>One instance: it always sends.</summary>
internal sealed class LocalAlertLease : IAlertLease
{
    public Task<LeaseTurn> HoldAsync(TimeSpan ttl, CancellationToken cancellationToken) => Task.FromResult(LeaseTurn.Renewed);

    public Task ReleaseAsync(TimeSpan ttl, CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>
/// With Redis: the lease <c>prefix:alert:sender</c> holds the name of the instance that sends, renewed at each check;
/// the others judge the same conditions and stay quiet. When Redis cannot be asked, the instance sends anyway: a
/// duplicate is better than silence while shared state is lost.
/// </summary>
internal sealed class RedisAlertLease(RedisLease redis, InstanceName instance) : IAlertLease
{
    private const string Name = "alert:sender";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);

    public async Task<LeaseTurn> HoldAsync(TimeSpan ttl, CancellationToken cancellationToken)
    {
        try
        {
            return await redis.HoldAsync(Name, instance.Value, ttl).WaitAsync(Timeout, cancellationToken);
        }
        catch (Exception exception) when (exception is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return LeaseTurn.Renewed;
        }
    }

    public async Task ReleaseAsync(TimeSpan ttl, CancellationToken cancellationToken)
    {
        try
        {
            await redis.ReleaseAsync(Name, instance.Value, ttl).WaitAsync(Timeout, cancellationToken);
        }
        catch (Exception exception) when (exception is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // Not handed over: the lease runs out within its time and the next sender takes it as lost.
        }
    }
}
