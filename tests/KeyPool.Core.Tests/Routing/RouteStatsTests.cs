using KeyPool.Core.Routing;

namespace KeyPool.Core.Tests.Routing;

public sealed class RouteStatsTests
{
    [Fact]
    public void Totals_CountWithinTheWindow_OldSecondsFallOut()
    {
        var stats = new RouteStats();
        stats.Admitted(1000, onOwnKey: true);
        stats.Admitted(1000, onOwnKey: false);
        stats.Refused(1001);
        stats.Admitted(1100, onOwnKey: true);

        Assert.Equal(new RouteTotals(2, 1, 1, 101), stats.Totals(1100));
        Assert.Equal(new RouteTotals(1, 0, 0, 300), stats.Totals(1000 + RouteStats.WindowSeconds + 50)); // 1000 and 1001 left
    }

    [Fact]
    public void Totals_ABucketReusedAfterTheWindow_StartsFromZero()
    {
        var stats = new RouteStats();
        stats.Admitted(10, true);
        stats.Admitted(10 + RouteStats.WindowSeconds, false);

        var totals = stats.Totals(10 + RouteStats.WindowSeconds);

        Assert.Equal((0L, 1L), (totals.Sticky, totals.Moved));
    }

    [Fact]
    public void Ratios_StickyShare_AndGoodputAgainstTheSmallerOfDemandAndBudget()
    {
        var light = new RouteTotals(Sticky: 99, Moved: 1, Refused: 0, Seconds: 60);
        var overloaded = new RouteTotals(Sticky: 200, Moved: 40, Refused: 480, Seconds: 60);

        Assert.Equal(0.99, light.StickyRatio!.Value, 6);
        Assert.Equal(1.0, light.GoodputRatio(requestsPerMinute: 240)!.Value, 6); // nothing refused
        Assert.Equal(1.0, overloaded.GoodputRatio(240)!.Value, 6); // the whole budget served
        Assert.Equal(0.5, overloaded.GoodputRatio(480)!.Value, 6); // half the budget wasted while refusing
        Assert.Null(new RouteTotals(0, 0, 0, 0).GoodputRatio(240));
        Assert.Null(new RouteTotals(0, 0, 0, 0).StickyRatio);
    }
}
