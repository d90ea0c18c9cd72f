using BenchmarkDotNet.Attributes;
using KeyPool.Core.Users;

namespace KeyPool.Benchmarks;

/// <summary>
/// Splits <see cref="UserGroupCache.TryGet"/> into its two paths: a hit in the young generation
/// (a dictionary read) and a hit in the old generation (the user is promoted: a write into the
/// young generation, whose <c>Count</c> is checked on every write). 1,000,000 users, random order.
/// </summary>
[MemoryDiagnoser]
public class UserCacheBenchmarks
{
    private const int Batch = 4096;
    private const int Users = 1_000_000;

    private UserGroupCache _youngHits = null!;
    private UserGroupCache _oldHits = null!;
    private string[] _ids = null!;
    private int[] _order = null!;
    private int _next;
    private int _refill;

    [GlobalSetup]
    public void Setup()
    {
        _ids = Enumerable.Range(0, Users).Select(i => $"user-{i}").ToArray();
        var random = new Random(42);
        _order = Enumerable.Range(0, 1 << 20).Select(_ => random.Next(Users)).ToArray();
        // One slot more than the users: the young generation never fills, so every hit is a read.
        _youngHits = new UserGroupCache(2 * (Users + 1));
        foreach (var id in _ids)
        {
            _youngHits.Set(new UserRecord(id, 1, "free"));
        }
        _oldHits = NewOldGenerationCache();
    }

    // Capacity 2 × users: filling rotates once, so every user sits in the old generation.
    private UserGroupCache NewOldGenerationCache()
    {
        var cache = new UserGroupCache(2 * Users);
        foreach (var id in _ids)
        {
            cache.Set(new UserRecord(id, 1, "free"));
        }
        return cache;
    }

    [IterationSetup(Target = nameof(OldGenerationHit))]
    public void RefillOld()
    {
        // Promotions empty the old generation over time; start every iteration from the same state.
        if (++_refill % 4 == 0)
        {
            _oldHits = NewOldGenerationCache();
        }
    }

    private string NextId() => _ids[_order[_next++ & ((1 << 20) - 1)]];

    [Benchmark(OperationsPerInvoke = Batch, Description = "TryGet, hit in young generation")]
    public int YoungGenerationHit()
    {
        var sum = 0;
        for (var i = 0; i < Batch; i++)
        {
            _youngHits.TryGet(NextId(), out var user);
            sum += user.ApiKeyGroup;
        }
        return sum;
    }

    [Benchmark(OperationsPerInvoke = Batch, Description = "TryGet, hit in old generation (promotes)")]
    public int OldGenerationHit()
    {
        var sum = 0;
        for (var i = 0; i < Batch; i++)
        {
            _oldHits.TryGet(NextId(), out var user);
            sum += user.ApiKeyGroup;
        }
        return sum;
    }
}
