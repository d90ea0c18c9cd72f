using KeyPool.Core.Budgets;
using KeyPool.Core.Cluster;
using KeyPool.Core.Health;
using KeyPool.Core.KeyHealth;
using KeyPool.Core.Keys;
using KeyPool.Core.Routing;
using Microsoft.Extensions.Time.Testing;

namespace KeyPool.Core.Tests.Routing;

public sealed class KeyPoolRouterTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 28, 12, 0, 0, TimeSpan.Zero));

    private static KeyRing Ring(params int[] groups) => new(groups.Select(g => new UpstreamKey(g, $"xai-test-key-{g:D8}")));

    private KeyPoolRouter Router(
        KeyRing ring,
        string policy = "StickyWithSpillover",
        int rpm = 60,
        TimeSpan? queue = null,
        Dictionary<int, GroupSettings>? groups = null,
        MissingKeyFallback fallback = MissingKeyFallback.Spill,
        int burstSeconds = 1) // a burst of one second's budget: the per-second arithmetic below stays plain
    {
        var routing = new RoutingOptions { Policy = policy, MaxQueueWait = queue ?? TimeSpan.Zero, MissingKeyFallback = fallback };
        return new KeyPoolRouter(ring, KeySelectionPolicies.Create(policy, routing, new Random(7))!, routing,
            new BudgetOptions { RequestsPerMinute = rpm, TokensPerMinute = 10_000_000, BurstSeconds = burstSeconds }, new KeyHealthOptions(), groups ?? [], _time);
    }

    [Fact]
    public void SelectKey_UserKeyHasBudget_StaysSticky()
    {
        var router = Router(Ring(1, 2, 3));

        var admission = router.TryAdmit(2, router.Pool.ModelId("m"), 10)!.Value;

        Assert.Equal(2, admission.Member.Group);
        Assert.Equal(RouteReason.Sticky, admission.Reason);
    }

    [Fact]
    public void SelectKey_StickyKeyExhausted_SpillsToMostHeadroom()
    {
        var router = Router(Ring(1, 2, 3), rpm: 600); // 10 per second
        var model = router.Pool.ModelId("m");
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(1, router.TryAdmit(1, model, 1)!.Value.Member.Group);
        }
        for (var i = 0; i < 7; i++)
        {
            router.TryAdmit(3, model, 1); // group 3 busier than group 2
        }

        var spill = router.TryAdmit(1, model, 1)!.Value;

        Assert.Equal(RouteReason.Spill, spill.Reason);
        Assert.Equal(2, spill.Member.Group);
        Assert.Equal(1, spill.Member.SpillsIn);
    }

    [Fact]
    public void SelectKey_StickyKeyRevoked_Spills_UserReturnsWhenReenabled()
    {
        var router = Router(Ring(1, 2));
        var model = router.Pool.ModelId("m");
        router.Pool.Find(1)!.Health.Revoke("revoked");

        Assert.Equal(2, router.TryAdmit(1, model, 1)!.Value.Member.Group);
        router.Pool.Find(1)!.Health.Reenable();
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(1, router.TryAdmit(1, model, 1)!.Value.Member.Group);
    }

    [Fact]
    public async Task SelectKey_NoBudgetAnywhere_IsNull_AndCounted()
    {
        var router = Router(Ring(1, 2), rpm: 60); // 1 per second each
        var model = router.Pool.ModelId("m");
        Assert.NotNull(router.TryAdmit(1, model, 1));
        Assert.NotNull(router.TryAdmit(1, model, 1));

        Assert.Null(await router.AdmitAsync(router.Pool, 1, model, 1, 0, null, null, CancellationToken.None));
        Assert.Equal(1, router.Rejected);
        Assert.Equal(1, router.RetryAfterSeconds(router.Pool, model, null));
    }

    [Fact]
    public async Task AdmitAsync_WaitsForTheNextSecond_WithinMaxQueueWait()
    {
        var router = Router(Ring(1), rpm: 60, queue: TimeSpan.FromSeconds(2));
        var model = router.Pool.ModelId("m");
        Assert.NotNull(router.TryAdmit(1, model, 1));

        var waiting = router.AdmitAsync(router.Pool, 1, model, 1, 0, null, null, CancellationToken.None).AsTask();
        Assert.False(waiting.IsCompleted);
        _time.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal(1, (await waiting)!.Value.Member.Group);
    }

    [Fact]
    public async Task AdmitAsync_NoCapacityWithinTheWait_IsNull()
    {
        var router = Router(Ring(1), rpm: 60, queue: TimeSpan.FromSeconds(2));
        var model = router.Pool.ModelId("m");
        // The upstream reports the whole minute used (someone else uses the key): nothing frees for 61 s.
        router.Pool.Window(router.Pool.Find(1)!, model).Observe(router.Second, 0, null);

        var waiting = router.AdmitAsync(router.Pool, 1, model, 1, 0, null, null, CancellationToken.None).AsTask();
        _time.Advance(TimeSpan.FromSeconds(1));
        _time.Advance(TimeSpan.FromSeconds(1));

        Assert.Null(await waiting);
    }

    [Fact]
    public void SameTeam_SharesOneBudget()
    {
        var groups = new Dictionary<int, GroupSettings> { [1] = new() { Team = "t" }, [2] = new() { Team = "t" } };
        var router = Router(Ring(1, 2, 3), rpm: 60, groups: groups);
        var model = router.Pool.ModelId("m");

        Assert.Equal(1, router.TryAdmit(1, model, 1)!.Value.Member.Group);
        var second = router.TryAdmit(2, model, 1)!.Value;

        Assert.Equal(3, second.Member.Group); // 2's team already spent this second
        Assert.Contains("keys 1 and 2 share team t: they add no capacity", PoolReport.SharedTeams(router.Pool));
    }

    [Fact]
    public void Budgets_ArePerModel()
    {
        var router = Router(Ring(1), rpm: 60);

        Assert.NotNull(router.TryAdmit(1, router.Pool.ModelId("a"), 1));
        Assert.NotNull(router.TryAdmit(1, router.Pool.ModelId("b"), 1));
        Assert.Null(router.TryAdmit(1, router.Pool.ModelId("a"), 1));
    }

    [Fact]
    public void GroupOverride_SetsTheTeamsLimits()
    {
        var groups = new Dictionary<int, GroupSettings> { [2] = new() { RequestsPerMinute = 120 } };
        var router = Router(Ring(1, 2), rpm: 60, groups: groups);

        Assert.Equal(60, router.Pool.Find(1)!.Limits.RequestsPerMinute);
        Assert.Equal(120, router.Pool.Find(2)!.Limits.RequestsPerMinute);
    }

    [Fact]
    public void ExcludeGroup_IsNeverChosen()
    {
        var router = Router(Ring(1, 2), rpm: 6000);
        var model = router.Pool.ModelId("m");

        Assert.All(Enumerable.Range(0, 20), _ => Assert.Equal(2, router.TryAdmit(1, model, 1, excludeGroup: 1)!.Value.Member.Group));
    }

    [Fact]
    public void MissingKey_SpillsAcrossThePool()
    {
        var router = Router(Ring(1, 3, 4, 5), rpm: 6000);
        var model = router.Pool.ModelId("m");

        var used = Enumerable.Range(0, 60).Select(_ => router.TryAdmit(2, model, 1)!.Value).ToArray();

        Assert.All(used, a => Assert.Equal(RouteReason.MissingKeyFallback, a.Reason));
        Assert.Equal(4, used.Select(a => a.Member.Group).Distinct().Count());
    }

    [Fact]
    public void MissingKey_KeyGroupOneFallback_GoesToGroupOneFirst()
    {
        var router = Router(Ring(1, 3), rpm: 6000, fallback: MissingKeyFallback.KeyGroupOne);

        Assert.Equal(1, router.TryAdmit(2, router.Pool.ModelId("m"), 1)!.Value.Member.Group);
    }

    [Theory]
    [InlineData("RoundRobin")]
    [InlineData("MostHeadroom")]
    public void BalancedPolicies_SpreadEvenly(string policy)
    {
        var router = Router(Ring(1, 2, 3, 4), policy, rpm: 60_000);
        var model = router.Pool.ModelId("m");

        var counts = Enumerable.Range(0, 400).Select(_ => router.TryAdmit(1, model, 1)!.Value.Member.Group)
            .GroupBy(g => g).Select(g => g.Count()).ToArray();

        Assert.Equal(4, counts.Length);
        Assert.True(counts.Max() - counts.Min() <= 1, string.Join(",", counts));
    }

    [Fact]
    public void KeyGroupOnePolicy_NeverSpills()
    {
        var router = Router(Ring(1, 2), "KeyGroupOne", rpm: 60);
        var model = router.Pool.ModelId("m");

        Assert.Equal(1, router.TryAdmit(3, model, 1)!.Value.Member.Group);
        Assert.Null(router.TryAdmit(1, model, 1));
    }

    [Fact]
    public void Load_KeepsHealthAndSpentBudget_OfUnchangedKeys()
    {
        var router = Router(Ring(1, 2), rpm: 60);
        var model = router.Pool.ModelId("m");
        router.TryAdmit(1, model, 1);
        router.Pool.Find(2)!.Health.Revoke("revoked");

        router.Pool.Find(1)!.CountSpillIn();

        router.Load(Ring(1, 2, 3), new Dictionary<int, string>());

        Assert.Equal(KeyState.Revoked, router.Pool.Find(2)!.Health.State);
        Assert.Equal(1, router.Pool.Find(1)!.SpillsIn);
        Assert.Equal(3, router.TryAdmit(1, model, 1)!.Value.Member.Group); // 1 spent its second; 2 is out
    }

    [Fact]
    public void Load_ChangedTeamLimits_KeepTheMinutesSpend()
    {
        var router = Router(Ring(1), rpm: 600, burstSeconds: 60);
        var model = router.Pool.ModelId("m");
        for (var i = 0; i < 10; i++)
        {
            router.TryAdmit(1, model, 1)!.Value.Settle(1);
        }

        router.Load(Ring(1), groups: new Dictionary<int, GroupSettings> { [1] = new() { RequestsPerMinute = 12 } });

        var member = router.Pool.Find(1)!;
        Assert.Equal(12, member.Limits.RequestsPerMinute);
        Assert.Equal((10, 10), router.Pool.Window(member, model).Used(router.Second)); // not reset
        Assert.NotNull(router.TryAdmit(1, model, 1));
        Assert.NotNull(router.TryAdmit(1, model, 1));
        Assert.Null(router.TryAdmit(1, model, 1)); // 12 in the minute, as the new limit says
    }

    [Fact]
    public void ChangedTeamLimits_TheSharedBudgetTakesThemToo_AndKeepsItsCounts()
    {
        var shared = new SharedBudgets(new InMemoryBudgetLedger(), new ClusterOptions { InstanceId = "a" }, new ClusterHealth(), _time);
        var budgets = new BudgetRegistry(new Models.ModelCatalog(), _time, shared);
        var team = budgets.For("t", new BudgetLimits(600, 1_000_000));
        var lease = team.For(0).Lease!;

        Assert.Same(team, budgets.For("t", new BudgetLimits(12, 1_000_000)));

        Assert.Same(lease, team.For(0).Lease); // the same cluster budget (its counts are the ledger's)
        Assert.Equal(new BudgetLimits(12, 1_000_000), lease.Limits);
        Assert.Equal(new BudgetLimits(12, 1_000_000), team.For(0).Window.Limits);
    }

    [Fact]
    public void TeamLeavesThePool_ItsSharedBudgetsAreDropped_TheOthersKept()
    {
        var shared = new SharedBudgets(new InMemoryBudgetLedger(), new ClusterOptions { InstanceId = "a" }, new ClusterHealth(), _time);
        var budgets = new BudgetRegistry(new Models.ModelCatalog(), _time, shared);
        var limits = new BudgetLimits(60, 1_000_000);
        var staying = budgets.For("stays", limits).For(0).Lease!;
        budgets.For("leaves", limits).For(0);
        budgets.For("leaves", limits).For(1);

        budgets.Retain(["stays"]);

        Assert.Same(staying, Assert.Single(shared.All));
        Assert.NotSame(staying, shared.For("leaves", limits, 0, "m")); // back later: a new budget, from the ledger's counts
    }

    [Fact]
    public void Load_KeyUnderAnotherGroup_KeepsItsHealth_AndARemovedKeyLosesIt()
    {
        var router = Router(Ring(1, 2), rpm: 60);
        router.Pool.Find(2)!.Health.Revoke("revoked");

        router.Load(new KeyRing([new UpstreamKey(1, "xai-test-key-00000001"), new UpstreamKey(5, "xai-test-key-00000002")]), new Dictionary<int, string>());
        Assert.Equal(KeyState.Revoked, router.Pool.Find(5)!.Health.State); // health belongs to the key, not to its group number

        router.Load(Ring(1), new Dictionary<int, string>());
        router.Load(Ring(1, 2), new Dictionary<int, string>());
        Assert.Equal(KeyState.Active, router.Pool.Find(2)!.Health.State); // it left the pool: back as new
    }

    [Fact]
    public void UnknownPolicyName_IsNull() => Assert.Null(KeySelectionPolicies.Create("Fastest", new RoutingOptions(), new Random()));
}
