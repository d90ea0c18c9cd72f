using BenchmarkDotNet.Attributes;
using KeyPool.Core.Limits;

namespace KeyPool.Benchmarks;

/// <summary>
/// What the tier limits add to a request: the tier's limits looked up by name (as the proxy does), then for a
/// limited tier <see cref="UserLimiter.TryAcquire"/> and the settle at completion. 1,000,000 users in random
/// order, every one holding a counter (the cap is above them, and nobody is ever refused: the limits are huge).
/// </summary>
[MemoryDiagnoser]
public class UserLimiterBenchmarks
{
    private const int Batch = 4096;
    private const int Users = 1_000_000;

    private readonly Dictionary<string, UserLimits> _tiers = new(StringComparer.Ordinal)
    {
        ["limited"] = new UserLimits(RequestsPerMinute: long.MaxValue / 4, TokensPerMinute: long.MaxValue / 4, TokensPerDay: long.MaxValue / 4),
        ["pro"] = new UserLimits(),
    };

    private UserLimiter _limiter = null!;
    private string[] _ids = null!;
    private int[] _order = null!;
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        _limiter = new UserLimiter(2 * Users, TimeProvider.System);
        _ids = Enumerable.Range(0, Users).Select(i => $"user-{i}").ToArray();
        var random = new Random(42);
        _order = Enumerable.Range(0, 1 << 20).Select(_ => random.Next(Users)).ToArray();
        foreach (var id in _ids)
        {
            _limiter.TryAcquire(id, _tiers["limited"], 1_200).Reservation.Settle(900); // counters made here, not measured
        }
    }

    private string NextId() => _ids[_order[_next++ & ((1 << 20) - 1)]];

    [Benchmark(OperationsPerInvoke = Batch, Description = "tier without limits", Baseline = true)]
    public int Unlimited() => Run("free");

    [Benchmark(OperationsPerInvoke = Batch, Description = "tier without limits, configured")]
    public int UnlimitedConfigured() => Run("pro");

    [Benchmark(OperationsPerInvoke = Batch, Description = "limited tier: acquire + settle")]
    public int Limited() => Run("limited");

    private int Run(string tier)
    {
        var admitted = 0;
        for (var i = 0; i < Batch; i++)
        {
            var decision = _tiers.TryGetValue(tier, out var limits) && limits.Any ? _limiter.TryAcquire(NextId(), limits, 1_200) : default;
            if (decision.Admitted)
            {
                admitted++;
            }
            decision.Reservation.Settle(900);
        }
        return admitted;
    }
}
