namespace KeyPool.Core.Money;

/// <summary>
/// What a model costs in USD per million tokens, for upstreams that do not say what a request cost
/// (<c>KeyPool:Models:Prices:&lt;model&gt;</c>). Reasoning tokens are billed as output.
/// </summary>
public sealed class ModelPrice
{
    /// <summary>Fresh (not cached) input tokens, USD per million.</summary>
    public decimal InputPerMillion { get; set; }

    /// <summary>Input tokens served from the prompt cache, USD per million. Unset: the input price.</summary>
    public decimal? CachedInputPerMillion { get; set; }

    /// <summary>Output and reasoning tokens, USD per million.</summary>
    public decimal OutputPerMillion { get; set; }
}
