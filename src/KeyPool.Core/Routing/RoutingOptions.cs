namespace KeyPool.Core.Routing;

/// <summary>Routing settings (<c>KeyPool:Routing</c>).</summary>
public sealed class RoutingOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "KeyPool:Routing";

    /// <summary>The selection policy by name (<see cref="KeySelectionPolicies"/>). Default <c>StickyWithSpillover</c>.</summary>
    public string Policy { get; set; } = KeySelectionPolicies.StickyWithSpillover;

    /// <summary>Where users of a removed key go first. Default <see cref="Routing.MissingKeyFallback.Spill"/>.</summary>
    public MissingKeyFallback MissingKeyFallback { get; set; } = MissingKeyFallback.Spill;

    /// <summary>How long a request may wait for capacity when no key has budget, before a 429. Default 2 s; 0 answers at once.</summary>
    public TimeSpan MaxQueueWait { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Requests that may wait at once; more get 429 at once. Default 1,000.</summary>
    public int MaxQueueLength { get; set; } = 1_000;

    /// <summary>Keys one request may try (the first plus retries), only before any byte reached the client. Default 2.</summary>
    public int MaxAttempts { get; set; } = 2;
}
