namespace KeyPool.Core.Routing;

/// <summary>Why a request went to the key it went to.</summary>
public enum RouteReason
{
    /// <summary>The user's own group.</summary>
    Sticky,

    /// <summary>The user's key was out of budget or unhealthy: this one request went elsewhere.</summary>
    Spill,

    /// <summary>The user's group has no key; another group served this request.</summary>
    MissingKeyFallback,

    /// <summary>A policy that ignores stickiness (round-robin, least-loaded) chose the key.</summary>
    Balanced,
}
