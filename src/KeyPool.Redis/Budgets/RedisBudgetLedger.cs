using KeyPool.Core.Budgets;
using KeyPool.Core.Cluster;
using KeyPool.Redis.Connections;
using StackExchange.Redis;

namespace KeyPool.Redis.Budgets;

/// <summary>The budget ledger in Redis: each lease, give-back and heartbeat is one atomic Lua script.</summary>
public sealed class RedisBudgetLedger(RedisConnection connection) : IBudgetLedger
{
    // Long enough to cover every window a grant can touch; Redis' own clock, so only a bound on garbage.
    private const long TimeToLiveMs = 180_000;

    /// <inheritdoc />
    public Task<LeaseGrant> LeaseAsync(BudgetKey key, BudgetLimits limits, LeaseRequest request, CancellationToken cancellationToken) =>
        RedisConnection.RunAsync(async () =>
        {
            var result = (RedisResult[])(await connection.Multiplexer.GetDatabase().ScriptEvaluateAsync(
                LedgerScripts.Lease,
                [BudgetName(key)],
                [request.Second, limits.RequestsPerMinute, limits.TokensPerMinute, limits.RequestsPerSecond, limits.TokensPerSecond,
                 request.Requests, request.Tokens, request.MinTokens, Math.Max(1, request.Share), TimeToLiveMs]).ConfigureAwait(false))!;
            return new LeaseGrant((long)result[0], (long)result[1], (long)result[2], (long)result[3]);
        });

    /// <inheritdoc />
    public Task AdjustAsync(BudgetKey key, long second, long requests, long tokens, CancellationToken cancellationToken) =>
        RedisConnection.RunAsync(() => connection.Multiplexer.GetDatabase().ScriptEvaluateAsync(
            LedgerScripts.Adjust, [BudgetName(key)], [second, requests, tokens, TimeToLiveMs]));

    /// <inheritdoc />
    public Task<ClusterBeat> HeartbeatAsync(string instanceId, long second, long timeoutSeconds, CancellationToken cancellationToken) =>
        RedisConnection.RunAsync(async () =>
        {
            var result = (RedisResult[])(await connection.Multiplexer.GetDatabase().ScriptEvaluateAsync(
                LedgerScripts.Heartbeat, [connection.Key("instances"), connection.Key("epoch")],
                [instanceId, second, timeoutSeconds, Guid.NewGuid().ToString("N")]).ConfigureAwait(false))!;
            return new ClusterBeat((int)result[0], (string)result[1]!);
        });

    private RedisKey BudgetName(BudgetKey key) => connection.Key($"budget:{key.Team}:{key.Model}");
}
