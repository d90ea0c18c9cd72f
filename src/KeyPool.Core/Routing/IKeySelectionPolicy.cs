namespace KeyPool.Core.Routing;

/// <summary>Chooses the key for one request and reserves its budget there; null when no key can take it now.</summary>
public interface IKeySelectionPolicy
{
    /// <summary>The policy's name in configuration (<c>KeyPool:Routing:Policy</c>).</summary>
    string Name { get; }

    /// <summary>Picks and admits, or returns null.</summary>
    Admission? Select(PoolSnapshot pool, in SelectionRequest request);
}

/// <summary>The policy names.</summary>
public static class KeySelectionPolicies
{
    /// <summary>The user's own key while healthy and within budget; else the healthy key with most headroom of two random picks.</summary>
    public static string StickyWithSpillover => nameof(StickyWithSpillover);

    /// <summary>Every key in turn, ignoring stickiness.</summary>
    public static string RoundRobin => nameof(RoundRobin);

    /// <summary>The key with the most budget headroom, ignoring stickiness.</summary>
    public static string MostHeadroom => nameof(MostHeadroom);

    /// <summary>The original system: the user's key, group 1 when it has none; no spill-over.</summary>
    public static string KeyGroupOne => nameof(KeyGroupOne);

    /// <summary>All names.</summary>
    public static IReadOnlyList<string> All { get; } = [StickyWithSpillover, RoundRobin, MostHeadroom, KeyGroupOne];

    /// <summary>Creates the policy named <paramref name="name"/> (case-insensitive), or null for an unknown name.</summary>
    public static IKeySelectionPolicy? Create(string name, RoutingOptions options, Random random) => name.ToUpperInvariant() switch
    {
        "STICKYWITHSPILLOVER" => new StickyWithSpilloverPolicy(options, random),
        "ROUNDROBIN" => new RoundRobinPolicy(),
        "MOSTHEADROOM" => new MostHeadroomPolicy(),
        "KEYGROUPONE" => new KeyGroupOnePolicy(),
        _ => null,
    };
}
