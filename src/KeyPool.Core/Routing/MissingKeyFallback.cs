namespace KeyPool.Core.Routing;

/// <summary>Where a request goes when the user's group has no key (the key was removed).</summary>
public enum MissingKeyFallback
{
    /// <summary>Spill-over, as when the user's key is full: the better of two random healthy keys; the user keeps their group.</summary>
    Spill,

    /// <summary>The original system's behaviour: group 1 (a hot spot; kept for comparison).</summary>
    KeyGroupOne,
}
