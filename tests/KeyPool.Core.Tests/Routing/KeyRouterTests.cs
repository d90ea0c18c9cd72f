using KeyPool.Core.Keys;
using KeyPool.Core.Routing;

namespace KeyPool.Core.Tests.Routing;

public sealed class KeyRouterTests
{
    private static KeyRing Ring(params int[] groups) => new(groups.Select(g => new UpstreamKey(g, $"xai-test-key-{g:D8}")));

    [Fact]
    public void Route_UserGroupHasKey_IsSticky()
    {
        var router = new KeyRouter(new RoutingOptions(), new InFlightTracker(10));

        var decision = router.Route(Ring(1, 2, 3), 2);

        Assert.Equal(2, decision!.Value.Key.Group);
        Assert.Equal(RouteReason.Sticky, decision.Value.Reason);
    }

    [Fact]
    public void Route_MissingKey_LeastLoaded_AvoidsBusyGroups()
    {
        var inFlight = new InFlightTracker(10);
        var router = new KeyRouter(new RoutingOptions(), inFlight);
        using var a = inFlight.Start(1);
        using var b = inFlight.Start(1);
        using var c = inFlight.Start(3);

        var decision = router.Route(Ring(1, 3, 4), 2);

        Assert.Equal(4, decision!.Value.Key.Group);
        Assert.Equal(RouteReason.MissingKeyFallback, decision.Value.Reason);
    }

    [Fact]
    public void Route_MissingKey_IdlePool_SpreadsInsteadOfPilingOnOneKey()
    {
        var router = new KeyRouter(new RoutingOptions(), new InFlightTracker(10));
        var ring = Ring(1, 3, 4, 5);

        var used = Enumerable.Range(0, 40).Select(_ => router.Route(ring, 2)!.Value.Key.Group).ToHashSet();

        Assert.Equal(4, used.Count);
    }

    [Fact]
    public void Route_MissingKey_KeyGroupOne_IsTheOriginalBehaviour()
    {
        var router = new KeyRouter(new RoutingOptions { MissingKeyFallback = MissingKeyFallback.KeyGroupOne }, new InFlightTracker(10));

        Assert.All(Enumerable.Range(0, 10), _ => Assert.Equal(1, router.Route(Ring(1, 3, 4), 2)!.Value.Key.Group));
    }

    [Fact]
    public void Route_EmptyRing_IsNull() => Assert.Null(new KeyRouter(new RoutingOptions(), new InFlightTracker(0)).Route(KeyRing.Empty, 1));

    [Fact]
    public void InFlight_LeaseEndsTheRequest()
    {
        var inFlight = new InFlightTracker(3);
        using (inFlight.Start(2))
        {
            Assert.Equal(1, inFlight[2]);
        }
        Assert.Equal(0, inFlight[2]);
    }
}
