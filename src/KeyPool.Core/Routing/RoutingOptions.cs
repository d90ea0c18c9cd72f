namespace KeyPool.Core.Routing;

/// <summary>Routing settings (<c>KeyPool:Routing</c>).</summary>
public sealed class RoutingOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "KeyPool:Routing";

    /// <summary>Where users of a removed key go. Default <see cref="Routing.MissingKeyFallback.LeastLoaded"/>.</summary>
    public MissingKeyFallback MissingKeyFallback { get; set; } = MissingKeyFallback.LeastLoaded;
}
