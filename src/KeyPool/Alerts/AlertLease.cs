using KeyPool.Redis.Connections;
using KeyPool.Telemetry;

namespace KeyPool.Alerts;

/// <summary>Who sends an alert when several instances see the same condition: the one that takes its lease.</summary>
internal interface IAlertLease
{
    Task<bool> TryTakeAsync(string name, TimeSpan ttl, CancellationToken cancellationToken);
}

/// <summary>One instance: it always sends.</summary>
internal sealed class LocalAlertLease : IAlertLease
{
    public Task<bool> TryTakeAsync(string name, TimeSpan ttl, CancellationToken cancellationToken) => Task.FromResult(true);
}

/// <summary>
/// With Redis: <c>SET prefix:alert:… instance NX PX ttl</c>; the first instance to set it sends, the others stay
/// quiet until it expires. When Redis cannot be asked, the instance sends anyway: a duplicate is better than silence
/// while shared state is lost.
/// </summary>
internal sealed class RedisAlertLease(RedisLease redis, InstanceName instance) : IAlertLease
{
    public async Task<bool> TryTakeAsync(string name, TimeSpan ttl, CancellationToken cancellationToken)
    {
        try
        {
            return await redis.TryTakeAsync(name, instance.Value, ttl).WaitAsync(TimeSpan.FromSeconds(2), cancellationToken);
        }
        catch (Exception exception) when (exception is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return true;
        }
    }
}
