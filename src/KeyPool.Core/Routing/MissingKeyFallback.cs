namespace KeyPool.Core.Routing;

/// <summary>Where a request goes when the user's group has no key (the key was removed).</summary>
public enum MissingKeyFallback
{
    /// <summary>Spill-over: the healthy key with the most headroom; the user keeps their group.</summary>
    LeastLoaded,

    /// <summary>The original system's behaviour: group 1 (a hot spot; kept for comparison).</summary>
    KeyGroupOne,
}
