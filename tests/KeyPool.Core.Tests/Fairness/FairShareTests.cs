using KeyPool.Core.Budgets;
using KeyPool.Core.KeyHealth;
using KeyPool.Core.Keys;
using KeyPool.Core.Routing;
using Microsoft.Extensions.Time.Testing;
using Xunit.Abstractions;

namespace KeyPool.Core.Tests.Fairness;

/// <summary>
/// One user sending 10× the rate of 20 others on one saturated key, simulated for ten minutes on a fake clock:
/// the 20 get at least 95% of what they ask (each at least 90%), the heavy user what is left, and the key's budget is
/// spent. (First come, first served, the same arrivals gave the 20 81% of what they asked, the least served 56%.)
/// </summary>
public sealed class FairShareTests(ITestOutputHelper output)
{
    private const int Rpm = 60;
    private const int Seconds = 600;
    private const int LightUsers = 20;
    private const int LightPeriodMs = 24_000; // 2.5 a minute each: 50 a minute together, of a 60 RPM key
    private const int HeavyPeriodMs = LightPeriodMs / 10;
    private const string Heavy = "heavy";

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 28, 12, 0, 0, TimeSpan.Zero));

    private KeyPoolRouter Router(int keys, TimeSpan queue, int maxQueueLength = 1_000)
    {
        var routing = new RoutingOptions { MaxQueueWait = queue, MaxQueueLength = maxQueueLength };
        var ring = new KeyRing(Enumerable.Range(1, keys).Select(g => new UpstreamKey(g, $"xai-test-key-{g:D8}")));
        return new KeyPoolRouter(ring, KeySelectionPolicies.Create("StickyWithSpillover", routing, new Random(3))!, routing,
            new BudgetOptions { RequestsPerMinute = Rpm, TokensPerMinute = 10_000_000 }, new KeyHealthOptions(), new Dictionary<int, GroupSettings>(), _time);
    }

    /// <summary>Arrivals at fixed rates, in time order: the heavy user every 2.4 s, each light user every 24 s (staggered).</summary>
    private static List<(int AtMs, string User)> Arrivals(Func<int, string>? lightName = null)
    {
        var arrivals = new List<(int, string)>();
        for (var at = 0; at < Seconds * 1000; at += HeavyPeriodMs)
        {
            arrivals.Add((at, Heavy));
        }
        for (var i = 0; i < LightUsers; i++)
        {
            for (var at = 600 + (i * (LightPeriodMs / LightUsers)); at < Seconds * 1000; at += LightPeriodMs)
            {
                arrivals.Add((at, lightName?.Invoke(i) ?? $"light-{i}"));
            }
        }
        return [.. arrivals.OrderBy(a => a.Item1).ThenBy(a => a.Item2, StringComparer.Ordinal)];
    }

    /// <summary>Plays the arrivals, admitting each at once or refusing it; returns asked and admitted per user.</summary>
    private Dictionary<string, (int Asked, int Admitted)> PlayAtOnce(KeyPoolRouter router, List<(int AtMs, string User)> arrivals)
    {
        var start = _time.GetUtcNow();
        var counts = new Dictionary<string, (int Asked, int Admitted)>();
        foreach (var (at, user) in arrivals)
        {
            _time.SetUtcNow(start.AddMilliseconds(at));
            var admitted = router.TryAdmit(1, 0, 100, 0, user) is not null;
            var (asked, got) = counts.GetValueOrDefault(user);
            counts[user] = (asked + 1, got + (admitted ? 1 : 0));
        }
        return counts;
    }

    private void Report(string scenario, Dictionary<string, (int Asked, int Admitted)> counts, int capacity)
    {
        var (lightAsked, lightAdmitted) = Lights(counts);
        var heavy = counts[Heavy];
        output.WriteLine($"{scenario}: light users {lightAdmitted}/{lightAsked} ({100.0 * lightAdmitted / lightAsked:F1}%), " +
            $"heavy {heavy.Admitted}/{heavy.Asked}, total {lightAdmitted + heavy.Admitted} of a capacity of {capacity}, " +
            $"least served light user {counts.Where(c => c.Key != Heavy).Min(c => (double)c.Value.Admitted / c.Value.Asked):P0}");
    }

    private static (int Asked, int Admitted) Lights(Dictionary<string, (int Asked, int Admitted)> counts) =>
        (counts.Where(c => c.Key != Heavy).Sum(c => c.Value.Asked), counts.Where(c => c.Key != Heavy).Sum(c => c.Value.Admitted));

    /// <summary>What the key carries for these arrivals: the same requests from one user (one user alone is never held back).</summary>
    private int Capacity(List<(int AtMs, string User)> arrivals)
    {
        var time = new FakeTimeProvider(_time.GetUtcNow());
        var routing = new RoutingOptions { MaxQueueWait = TimeSpan.Zero };
        var router = new KeyPoolRouter(new KeyRing([new UpstreamKey(1, "xai-test-key-00000001")]), KeySelectionPolicies.Create("StickyWithSpillover", routing, new Random(3))!,
            routing, new BudgetOptions { RequestsPerMinute = Rpm, TokensPerMinute = 10_000_000 }, new KeyHealthOptions(), new Dictionary<int, GroupSettings>(), time);
        var start = time.GetUtcNow();
        var admitted = 0;
        foreach (var (at, _) in arrivals)
        {
            time.SetUtcNow(start.AddMilliseconds(at));
            admitted += router.TryAdmit(1, 0, 100, 0, "everyone") is null ? 0 : 1;
        }
        return admitted;
    }

    [Fact]
    public void SaturatedKey_RefusedAtOnce_LightUsersGetWhatTheyAsk_HeavyUserTheRest()
    {
        var arrivals = Arrivals();
        var capacity = Capacity(arrivals);
        var router = Router(keys: 1, queue: TimeSpan.Zero);

        var counts = PlayAtOnce(router, arrivals);

        Report("refused at once", counts, capacity);
        AssertFair(counts, capacity);
    }

    [Fact]
    public async Task SaturatedKey_Waiting_LightUsersAreServedFirst_HeavyUserTheRest()
    {
        var arrivals = Arrivals();
        var capacity = Capacity(arrivals);
        var router = Router(keys: 1, queue: TimeSpan.FromSeconds(2));
        var start = _time.GetUtcNow();
        var pending = new List<(string User, Task<Admission?> Admission)>();

        foreach (var (at, user) in arrivals)
        {
            _time.SetUtcNow(start.AddMilliseconds(at));
            pending.Add((user, router.AdmitAsync(router.Pool, 1, 0, 100, 0, user, null, CancellationToken.None).AsTask()));
        }
        _time.Advance(TimeSpan.FromSeconds(3)); // the last waiters' deadlines pass
        await Task.WhenAll(pending.Select(p => p.Admission));
        var counts = pending.GroupBy(p => p.User).ToDictionary(g => g.Key, g => (g.Count(), g.Count(p => p.Admission.Result is not null)));

        Report("waiting up to 2 s", counts, capacity);
        AssertFair(counts, capacity);
        Assert.Equal(0, router.Waiting);
    }

    [Fact]
    public void SaturatedOwnKey_AnotherKeyHasRoom_EveryoneSpillsThereFirst()
    {
        var arrivals = Arrivals();
        var router = Router(keys: 2, queue: TimeSpan.Zero); // every user's key is 1; key 2 is idle

        var counts = PlayAtOnce(router, arrivals);

        Report("a second key with room", counts, 2 * Capacity(arrivals));
        Assert.All(counts, c => Assert.Equal(c.Value.Asked, c.Value.Admitted));
        Assert.True(router.Pool.Find(2)!.SpillsIn > 0);
    }

    [Fact]
    public void ManyLightUsers_NoneIsHeld_OnlyTheOneTakingMoreThanTwiceTheAverage()
    {
        var router = Router(keys: 1, queue: TimeSpan.Zero);
        for (var i = 0; i < 30; i++)
        {
            foreach (var user in Enumerable.Range(0, 10).Select(u => $"u{u}"))
            {
                router.Fairness.Record(KeyPool.Core.Fairness.FairShare.Hash(user), router.Pool.Find(1)!.Limits, 100, router.Second);
            }
            for (var h = 0; h < 5; h++)
            {
                router.Fairness.Record(KeyPool.Core.Fairness.FairShare.Hash(Heavy), router.Pool.Find(1)!.Limits, 100, router.Second);
            }
            _time.Advance(TimeSpan.FromSeconds(1));
        }

        Assert.True(router.Fairness.IsHeavy(Heavy, router.Second));
        Assert.All(Enumerable.Range(0, 10), u => Assert.False(router.Fairness.IsHeavy($"u{u}", router.Second)));
        Assert.False(router.Fairness.IsHeavy("newcomer", router.Second));
    }

    [Fact]
    public void RefusedHeavyUser_GetsNoPromisedSlot_RefusedLightUserDoes()
    {
        var router = Router(keys: 1, queue: TimeSpan.Zero);
        var limits = router.Pool.Find(1)!.Limits;
        for (var i = 0; i < 20; i++)
        {
            router.Fairness.Record(KeyPool.Core.Fairness.FairShare.Hash(Heavy), limits, 100, router.Second);
            router.Fairness.Record(KeyPool.Core.Fairness.FairShare.Hash($"light-{i}"), limits, 100, router.Second);
        }
        router.Pool.Window(router.Pool.Find(1)!, 0).Observe(router.Second, 0, null); // the minute is spent

        Assert.Null(router.TryAdmit(1, 0, 100, 0, Heavy));
        router.RetryAfterSeconds(router.Pool, 0, Heavy);
        Assert.Equal(0, router.Promises.Outstanding);
        Assert.Null(router.TryAdmit(1, 0, 100, 0, "light-3"));
        router.RetryAfterSeconds(router.Pool, 0, "light-3");
        Assert.Equal(1, router.Promises.Outstanding);
    }

    [Fact]
    public async Task FullLine_ALightNewcomerTakesTheHeaviestWaitersPlace()
    {
        var router = Router(keys: 1, queue: TimeSpan.FromSeconds(2), maxQueueLength: 2);
        var limits = router.Pool.Find(1)!.Limits;
        for (var i = 0; i < 20; i++)
        {
            router.Fairness.Record(KeyPool.Core.Fairness.FairShare.Hash(Heavy), limits, 100, router.Second);
            router.Fairness.Record(KeyPool.Core.Fairness.FairShare.Hash($"light-{i}"), limits, 100, router.Second);
        }
        router.Pool.Window(router.Pool.Find(1)!, 0).Observe(router.Second, 0, null);
        var first = router.AdmitAsync(router.Pool, 1, 0, 100, 0, Heavy, null, CancellationToken.None).AsTask();
        var second = router.AdmitAsync(router.Pool, 1, 0, 100, 0, Heavy, null, CancellationToken.None).AsTask();

        var light = router.AdmitAsync(router.Pool, 1, 0, 100, 0, "light-1", null, CancellationToken.None).AsTask();

        Assert.True(first.IsCompleted || second.IsCompleted);
        Assert.Null(await (first.IsCompleted ? first : second));
        Assert.False(light.IsCompleted);
        Assert.Equal(2, router.Waiting);
        _time.Advance(TimeSpan.FromSeconds(2));
        Assert.Null(await light); // nothing freed: refused at its deadline
    }

    [Fact]
    public async Task Waiter_Cancelled_LeavesTheLine()
    {
        var router = Router(keys: 1, queue: TimeSpan.FromSeconds(2));
        router.Pool.Window(router.Pool.Find(1)!, 0).Observe(router.Second, 0, null);
        using var cancel = new CancellationTokenSource();
        var waiting = router.AdmitAsync(router.Pool, 1, 0, 100, 0, "a", null, cancel.Token).AsTask();
        Assert.Equal(1, router.Waiting);

        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        Assert.Equal(0, router.Waiting);
    }

    private static void AssertFair(Dictionary<string, (int Asked, int Admitted)> counts, int capacity)
    {
        var (lightAsked, lightAdmitted) = Lights(counts);
        var heavy = counts[Heavy];
        Assert.True(lightAdmitted >= 0.95 * lightAsked, $"light users got {lightAdmitted} of {lightAsked}");
        Assert.All(counts.Where(c => c.Key != Heavy), c => Assert.True(c.Value.Admitted >= 0.9 * c.Value.Asked, $"{c.Key} got {c.Value.Admitted} of {c.Value.Asked}"));
        Assert.True(heavy.Admitted < heavy.Asked);
        // Nothing wasted: the heavy user gets what the others leave, short of one second's budget kept back.
        Assert.True(lightAdmitted + heavy.Admitted >= 0.97 * capacity, $"{lightAdmitted + heavy.Admitted} admitted of a capacity of {capacity}");
    }
}
