using BenchmarkDotNet.Attributes;
using KeyPool.Core.Budgets;
using KeyPool.Core.KeyHealth;
using KeyPool.Core.Keys;
using KeyPool.Core.Outcomes;
using KeyPool.Core.Requests;
using KeyPool.Core.Routing;
using KeyPool.Core.Usage;
using KeyPool.Core.Users;

namespace KeyPool.Benchmarks;

/// <summary>
/// The in-memory part of one proxied request: user → group (cache), model id, admission by the
/// StickyWithSpillover policy over 100 keys (budget reserved), the request's budget ending its attempt with the
/// upstream's figures and settled as the gateway does (<see cref="RequestBudget"/>), usage recorded.
/// Budgets are huge so every request is admitted to the user's own key (the steady state).
/// Each benchmark runs <see cref="Batch"/> requests over pre-generated random user ids, so
/// string formatting and the benchmark loop are not measured; figures are per request.
/// </summary>
[MemoryDiagnoser]
public class RequestPathBenchmarks
{
    private const int Batch = 4096;
    private const int Users = 1_000_000;

    private KeyPoolRouter _router = null!;
    private UserGroupCache _cache = null!;
    private UsageRecorder _recorder = null!;
    private string[] _ids = null!;
    private int[] _order = null!;
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        var ring = new KeyRing(Enumerable.Range(1, 100).Select(g => new UpstreamKey(g, $"xai-bench-{g:D20}")));
        _router = new KeyPoolRouter(
            ring,
            KeySelectionPolicies.Create(KeySelectionPolicies.StickyWithSpillover, new RoutingOptions(), new Random(1))!,
            new RoutingOptions(),
            new BudgetOptions { RequestsPerMinute = int.MaxValue / 2, TokensPerMinute = 1L << 50 }, // huge, yet a refill after a pause cannot overflow
            new KeyHealthOptions(),
            new Dictionary<int, GroupSettings>(),
            TimeProvider.System);
        _cache = new UserGroupCache(2_000_000);
        _ids = new string[Users];
        for (var i = 0; i < Users; i++)
        {
            _ids[i] = $"user-{i}";
            _cache.Set(new UserRecord(_ids[i], (i % 100) + 1, "free"));
        }
        var random = new Random(42);
        _order = Enumerable.Range(0, 1 << 20).Select(_ => random.Next(Users)).ToArray();
        _recorder = new UsageRecorder(TimeProvider.System);
        // First touch of every group and model happens here, not in the measurement.
        var modelId = _router.Pool.ModelId("grok-4.3");
        for (var g = 1; g <= 100; g++)
        {
            _router.TryAdmit(g, modelId, 1200)!.Value.Settle(900);
            _recorder.Record(new UsageSample(g, 200, 100, 50, 20, 0, 170));
        }
    }

    private static readonly UpstreamOutcome Answered = new(OutcomeKind.Answered, 200, RemainingRequests: 1_000_000, RemainingTokens: 1L << 40, Tokens: 900);

    private string NextId() => _ids[_order[_next++ & ((1 << 20) - 1)]];

    [Benchmark(OperationsPerInvoke = Batch, Description = "whole request path")]
    public int RequestPath()
    {
        var sum = 0;
        for (var i = 0; i < Batch; i++)
        {
            if (!_cache.TryGet(NextId(), out var user))
            {
                throw new InvalidOperationException("user not cached");
            }
            var modelId = _router.Pool.ModelId("grok-4.3");
            var admission = _router.TryAdmit(user.ApiKeyGroup, modelId, 1200)!.Value;
            var budget = new RequestBudget();
            budget.Admit(admission);
            budget.EndAttempt(Answered, _router.Second);
            budget.Settle();
            _recorder.Record(new UsageSample(admission.Member.Group, 200, 100, 50, 20, 0, 170));
            sum += admission.Member.Group;
        }
        return sum;
    }

    [Benchmark(OperationsPerInvoke = Batch, Description = "cache: TryGet")]
    public int CacheLookup()
    {
        var sum = 0;
        for (var i = 0; i < Batch; i++)
        {
            _cache.TryGet(NextId(), out var user);
            sum += user.ApiKeyGroup;
        }
        return sum;
    }

    [Benchmark(OperationsPerInvoke = Batch, Description = "router: ModelId")]
    public int ModelId()
    {
        var sum = 0;
        for (var i = 0; i < Batch; i++)
        {
            sum += _router.Pool.ModelId("grok-4.3");
        }
        return sum;
    }

    [Benchmark(OperationsPerInvoke = Batch, Description = "router: TryAdmit + Settle")]
    public int AdmitAndSettle()
    {
        var sum = 0;
        for (var i = 0; i < Batch; i++)
        {
            var admission = _router.TryAdmit((i % 100) + 1, 0, 1200)!.Value;
            admission.Settle(900);
            sum += admission.Member.Group;
        }
        return sum;
    }

    [Benchmark(OperationsPerInvoke = Batch, Description = "router: TryAdmit with a user + Settle")]
    public int AdmitUserAndSettle()
    {
        // A named user: the path the gateway takes (fair share reads and counts the user's recent usage).
        var sum = 0;
        for (var i = 0; i < Batch; i++)
        {
            var admission = _router.TryAdmit((i % 100) + 1, 0, 1200, 0, NextId())!.Value;
            admission.Settle(900);
            sum += admission.Member.Group;
        }
        return sum;
    }

    [Benchmark(OperationsPerInvoke = Batch, Description = "usage: Record")]
    public void RecordUsage()
    {
        for (var i = 0; i < Batch; i++)
        {
            _recorder.Record(new UsageSample((i % 100) + 1, 200, 100, 50, 20, 0, 170));
        }
    }
}
