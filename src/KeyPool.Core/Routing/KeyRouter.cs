using KeyPool.Core.Keys;

namespace KeyPool.Core.Routing;

/// <summary>Why a request went to the key it went to.</summary>
public enum RouteReason
{
    /// <summary>The user's own group.</summary>
    Sticky,

    /// <summary>The user's group has no key; another group served this request.</summary>
    MissingKeyFallback,
}

/// <summary>The key chosen for one request.</summary>
public readonly record struct RouteDecision(UpstreamKey Key, RouteReason Reason);

/// <summary>Chooses the upstream key for a user's request: sticky to the user's group, with a fallback when it has no key.</summary>
public sealed class KeyRouter(RoutingOptions options, InFlightTracker inFlight)
{
    private int _tieBreak;

    /// <summary>The configured fallback for users of a removed key.</summary>
    public MissingKeyFallback Fallback => options.MissingKeyFallback;

    /// <summary>The key for a user of <paramref name="userGroup"/>, or null when the ring is empty.</summary>
    public RouteDecision? Route(KeyRing ring, int userGroup)
    {
        ArgumentNullException.ThrowIfNull(ring);
        if (ring.Find(userGroup) is { } own)
        {
            return new RouteDecision(own, RouteReason.Sticky);
        }
        if (options.MissingKeyFallback == MissingKeyFallback.KeyGroupOne && ring.Find(1) is { } first)
        {
            return new RouteDecision(first, RouteReason.MissingKeyFallback);
        }
        return LeastLoaded(ring) is { } key ? new RouteDecision(key, RouteReason.MissingKeyFallback) : null;
    }

    /// <summary>The key with the fewest requests in flight; ties rotate so idle pools still spread.</summary>
    public UpstreamKey? LeastLoaded(KeyRing ring)
    {
        ArgumentNullException.ThrowIfNull(ring);
        var keys = ring.Keys;
        if (keys.Count == 0)
        {
            return null;
        }
        var start = (int)((uint)Interlocked.Increment(ref _tieBreak) % (uint)keys.Count);
        UpstreamKey? best = null;
        var bestLoad = int.MaxValue;
        for (var i = 0; i < keys.Count; i++)
        {
            var key = keys[(start + i) % keys.Count];
            var load = inFlight[key.Group];
            if (load < bestLoad)
            {
                best = key;
                bestLoad = load;
            }
        }
        return best;
    }
}
