using KeyPool.Core.Budgets;
using KeyPool.Core.Health;
using KeyPool.Core.KeyHealth;
using KeyPool.Core.Keys;
using KeyPool.Core.Routing;
using Microsoft.Extensions.Time.Testing;

namespace KeyPool.Core.Tests.Health;

public sealed class PoolReportTests
{
    private readonly FakeTimeProvider _time = new();

    private PoolSnapshot Pool(int keys, Dictionary<int, GroupSettings>? groups = null) =>
        PoolSnapshot.Build(new KeyRing(Enumerable.Range(1, keys).Select(g => new UpstreamKey(g, $"xai-report-key-{g:D6}"))),
            groups ?? [], new Dictionary<int, string>(), new BudgetOptions { RequestsPerMinute = 60, BurstSeconds = 1 }, new KeyHealthOptions(), _time); // burst 1: one request saturates

    [Fact]
    public void Grade_RevokedAndCoolingKeys_DropTheStatus_AndSayWhy()
    {
        var pool = Pool(31);
        pool.Find(3)!.Health.Revoke("revoked");
        pool.Find(9)!.Health.CoolDown(TimeSpan.FromSeconds(30));
        for (var g = 10; g <= 15; g++)
        {
            pool.Find(g)!.Health.Revoke("revoked");
        }

        var reports = PoolReport.Keys(pool, 0);
        var health = PoolReport.Grade(pool, reports, new CapacityOptions());

        Assert.Equal("GOOD", health.Status);
        Assert.Contains("7 keys revoked: 3, 10, 11, 12, 13, 14, 15", health.Message, StringComparison.Ordinal);
        Assert.Contains("1 key cooling down: 9", health.Message, StringComparison.Ordinal);
        Assert.Equal(31, health.TotalKeys);
        Assert.Equal(23 * 30_000, health.EstimatedCapacity.DailyUsers);
        Assert.Equal(KeyState.Revoked, reports[2].State);
        Assert.Equal(KeyState.CoolingDown, reports[8].State);
    }

    [Fact]
    public void Grade_KeysOfOneTeam_CountOnce()
    {
        var groups = new Dictionary<int, GroupSettings> { [3] = new() { Team = "X" }, [9] = new() { Team = "X" }, [12] = new() { Team = "X" } };
        var pool = Pool(12, groups);

        var health = PoolReport.Grade(pool, PoolReport.Keys(pool, 0), new CapacityOptions());

        Assert.Equal(10 * 30_000, health.EstimatedCapacity.DailyUsers);
        Assert.Contains("keys 3, 9 and 12 share team X: they add no capacity", health.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Keys_SaturatedWhenTheBudgetIsSpent()
    {
        var pool = Pool(2);
        var model = pool.ModelId("m");
        pool.TryAdmit(pool.Find(1)!, new SelectionRequest(1, model, 1, 0), RouteReason.Sticky, out _);

        var reports = PoolReport.Keys(pool, 0);

        Assert.Equal(KeyState.Saturated, reports[0].State);
        Assert.Equal((1, 60), (reports[0].RequestsUsed, reports[0].RequestsLimit));
        Assert.Equal(KeyState.Active, reports[1].State);
    }
}
