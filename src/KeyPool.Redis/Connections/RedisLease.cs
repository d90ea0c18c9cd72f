using StackExchange.Redis;

namespace KeyPool.Redis.Connections;

/// <summary>How a holder stands after asking for a lease.</summary>
public enum LeaseTurn
{
    /// <summary>Another holder has it.</summary>
    Refused,

    /// <summary>The holder had it and renewed it.</summary>
    Renewed,

    /// <summary>Taken from a holder that released it (a stop: it finished its work).</summary>
    HandedOver,

    /// <summary>Taken while free: the first holder, or the last one vanished without releasing it (a crash).</summary>
    TakenFree,
}

/// <summary>
/// A named lease in Redis held by one holder at a time: taken when free, renewed by its holder, released on a stop
/// (marked released rather than deleted, so the next holder knows it was handed over, not lost).
/// </summary>
public sealed class RedisLease(RedisConnection connection)
{
    private const string Released = "\u0000released";

    private const string HoldScript =
        """
        local current = redis.call('GET', KEYS[1])
        if current == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
        if current == false or current == ARGV[3] then
            redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
            if current == false then return 3 end
            return 2
        end
        return 0
        """;

    private const string ReleaseScript =
        """
        if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[2]) return 1 end
        return 0
        """;

    /// <summary>Takes <paramref name="name"/> for <paramref name="holder"/> when free, or renews it when it holds it, for <paramref name="ttl"/>.</summary>
    public async Task<LeaseTurn> HoldAsync(string name, string holder, TimeSpan ttl) =>
        (LeaseTurn)(int)await RunAsync(HoldScript, name, holder, ttl).ConfigureAwait(false);

    /// <summary>Lets <paramref name="name"/> go when <paramref name="holder"/> holds it; the next holder sees it handed over (for <paramref name="ttl"/>).</summary>
    public async Task ReleaseAsync(string name, string holder, TimeSpan ttl) =>
        await RunAsync(ReleaseScript, name, holder, ttl).ConfigureAwait(false);

    private Task<RedisResult> RunAsync(string script, string name, string holder, TimeSpan ttl) =>
        RedisConnection.RunAsync(() => connection.Multiplexer.GetDatabase().ScriptEvaluateAsync(
            script, [connection.Key(name)], [holder, (long)ttl.TotalMilliseconds, Released]));
}
