using KeyPool.Core.Money;

namespace KeyPool.Models;

/// <summary>Which models callers may ask for (<c>KeyPool:Models</c>).</summary>
public sealed class ModelsOptions
{
    public const string Section = "KeyPool:Models";

    /// <summary>Model names allowed besides the upstream's list (a model it serves but does not list). Default none.</summary>
    public List<string> Known { get; set; } = [];

    /// <summary>Names callers may use for an upstream model (<c>"fast": "grok-4.3"</c>); the body is rewritten. Default none.</summary>
    public Dictionary<string, string> Aliases { get; set; } = [];

    /// <summary>
    /// USD per million tokens by model (<c>KeyPool:Models:Prices:grok-4.3:InputPerMillion</c>, <c>CachedInputPerMillion</c>,
    /// <c>OutputPerMillion</c>): estimates a request's cost when the upstream sends no <c>cost_in_usd_ticks</c> (shown as
    /// estimated), and what cached tokens saved. Default none.
    /// </summary>
    public Dictionary<string, ModelPrice> Prices { get; set; } = [];

    /// <summary>How often the upstream's list is read again. Default 10 minutes.</summary>
    public TimeSpan RefreshInterval { get; set; } = TimeSpan.FromMinutes(10);
}
