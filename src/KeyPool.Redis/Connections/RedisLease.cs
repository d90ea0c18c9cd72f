using StackExchange.Redis;

namespace KeyPool.Redis.Connections;

/// <summary>A named lease in Redis (<c>SET key holder NX PX ttl</c>): the first holder to ask gets it until it expires.</summary>
public sealed class RedisLease(RedisConnection connection)
{
    /// <summary>True when <paramref name="holder"/> took <paramref name="name"/> now; false when another holds it.</summary>
    public Task<bool> TryTakeAsync(string name, string holder, TimeSpan ttl) =>
        RedisConnection.RunAsync(() => connection.Multiplexer.GetDatabase().StringSetAsync(connection.Key(name), holder, ttl, When.NotExists));
}
