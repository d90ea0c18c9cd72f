using BenchmarkDotNet.Attributes;
using KeyPool.Core.Budgets;
using KeyPool.Core.Cluster;
using KeyPool.Core.KeyHealth;
using KeyPool.Core.Keys;
using KeyPool.Core.Routing;
using KeyPool.Redis.Budgets;
using KeyPool.Redis.Connections;
using KeyPool.TestServers;

namespace KeyPool.Benchmarks;

/// <summary>
/// What sharing budgets through Redis adds to the request path: admission and settle over 100 keys alone,
/// and with each budget leased from a real redis-server (a background round every 50 ms keeps the leases
/// supplied, as in the gateway). The request path never waits on Redis; the difference is the lease
/// bookkeeping. "lease round" is one background round with Redis for 100 budgets (off the request path).
/// </summary>
[MemoryDiagnoser]
public class SharedBudgetBenchmarks
{
    private const int Batch = 4096;

    private KeyPoolRouter _alone = null!;
    private KeyPoolRouter _shared = null!;
    private SharedBudgets _budgets = null!;
    private RedisServer _redis = null!;
    private RedisConnection _connection = null!;
    private CancellationTokenSource _stop = null!;
    private Task _rounds = null!;
    private int _model;

    [GlobalSetup]
    public void Setup()
    {
        _redis = RedisServer.StartAsync().GetAwaiter().GetResult();
        _connection = RedisConnection.ConnectAsync(_redis.ConnectionString, "bench").GetAwaiter().GetResult();
        _budgets = new SharedBudgets(new RedisBudgetLedger(_connection), new ClusterOptions { Prefix = "bench" }, new ClusterHealth(), TimeProvider.System);
        _alone = Router(null);
        _shared = Router(_budgets);
        _model = _shared.Pool.ModelId("grok-4.3");
        _alone.Pool.ModelId("grok-4.3");
        _stop = new CancellationTokenSource();
        _rounds = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                await _budgets.RefreshAsync(_stop.Token);
                await _budgets.WaitAsync(TimeSpan.FromMilliseconds(50), _stop.Token).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        });
        // Demand first, then leases: warm every budget before measuring.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (DateTime.UtcNow < deadline && Enumerable.Range(1, 100).Any(g => _shared.TryAdmit(g, _model, 1200) is null))
        {
            Thread.Sleep(20);
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _stop.Cancel();
        _rounds.ContinueWith(_ => { }, TaskScheduler.Default).Wait();
        _connection.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _redis.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    private static KeyPoolRouter Router(SharedBudgets? shared) => new(
        new KeyRing(Enumerable.Range(1, 100).Select(g => new UpstreamKey(g, $"xai-bench-{g:D20}"))),
        KeySelectionPolicies.Create(KeySelectionPolicies.StickyWithSpillover, new RoutingOptions(), new Random(1))!,
        new RoutingOptions(),
        // Limits high enough that every request is admitted (the steady state), low enough for Lua's numbers.
        new BudgetOptions { RequestsPerMinute = 600_000_000, TokensPerMinute = 1_000_000_000_000 },
        new KeyHealthOptions(),
        new Dictionary<int, GroupSettings>(),
        TimeProvider.System,
        shared);

    [Benchmark(Baseline = true, OperationsPerInvoke = Batch, Description = "alone: TryAdmit + Settle")]
    public int Alone() => Run(_alone);

    [Benchmark(OperationsPerInvoke = Batch, Description = "Redis leases: TryAdmit + Settle")]
    public int Shared() => Run(_shared);

    [Benchmark(Description = "lease round with Redis, 100 budgets (background)")]
    public Task LeaseRound() => _budgets.RefreshAsync(CancellationToken.None);

    private int Run(KeyPoolRouter router)
    {
        var admitted = 0;
        for (var i = 0; i < Batch; i++)
        {
            if (router.TryAdmit((i % 100) + 1, _model, 1200) is { } admission)
            {
                admission.Settle(900);
                admitted++;
            }
        }
        return admitted;
    }
}
