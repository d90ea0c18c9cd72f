using KeyPool.Core.Budgets;
using KeyPool.Core.Cluster;
using KeyPool.Core.KeyHealth;
using KeyPool.Core.Keys;
using KeyPool.Core.Routing;
using KeyPool.Redis.Budgets;
using KeyPool.Redis.Connections;

namespace KeyPool.Redis.Tests.Infrastructure;

/// <summary>One simulated KeyPool instance: its own Redis connection, ledger, shared budgets and router, on a shared fake clock.</summary>
internal sealed class Instance : IAsyncDisposable
{
    private Instance(RedisConnection connection, SharedBudgets budgets, KeyPoolRouter router)
    {
        Connection = connection;
        Budgets = budgets;
        Router = router;
    }

    public RedisConnection Connection { get; }

    public SharedBudgets Budgets { get; }

    public KeyPoolRouter Router { get; }

    public static async Task<Instance> StartAsync(string connectionString, string prefix, string name, TimeProvider time, BudgetOptions budgets, KeyRing ring, int configuredInstances = 0)
    {
        var connection = await RedisConnection.ConnectAsync(connectionString, prefix);
        var options = new ClusterOptions { Prefix = prefix, InstanceId = name, Instances = configuredInstances };
        var shared = new SharedBudgets(new RedisBudgetLedger(connection), options, new ClusterHealth(), time);
        var routing = new RoutingOptions { MaxQueueWait = TimeSpan.Zero };
        var router = new KeyPoolRouter(ring, KeySelectionPolicies.Create(routing.Policy, routing, new Random(1))!, routing, budgets, new KeyHealthOptions(),
            new Dictionary<int, GroupSettings>(), time, shared);
        return new Instance(connection, shared, router);
    }

    public async ValueTask DisposeAsync() => await Connection.DisposeAsync();
}
