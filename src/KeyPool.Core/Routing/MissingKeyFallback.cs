namespace KeyPool.Core.Routing;

/// <summary>Where a request goes when the user's group has no key (the key was removed).</summary>
public enum MissingKeyFallback
{
    /// <summary>The available group with the fewest requests in flight; the user keeps their group.</summary>
    LeastLoaded,

    /// <summary>The original system's behaviour: group 1 (a hot spot; kept for comparison).</summary>
    KeyGroupOne,
}
