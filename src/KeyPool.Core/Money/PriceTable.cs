namespace KeyPool.Core.Money;

/// <summary>
/// Estimates what a request cost from token counts and a per-model price, when the upstream sent no
/// <c>cost_in_usd_ticks</c>; and what the prompt cache saved (cached tokens × the input − cached input price).
/// An upstream's own cost is never recomputed.
/// </summary>
public sealed class PriceTable
{
    private readonly Dictionary<string, Rates> _rates;

    /// <summary>A table of <paramref name="prices"/> by model name (case-sensitive, as the upstream names models).</summary>
    public PriceTable(IReadOnlyDictionary<string, ModelPrice> prices)
    {
        ArgumentNullException.ThrowIfNull(prices);
        _rates = new Dictionary<string, Rates>(prices.Count, StringComparer.Ordinal);
        foreach (var (model, price) in prices)
        {
            var input = UsdTicks.PerToken(price.InputPerMillion);
            _rates[model] = new Rates(input, UsdTicks.PerToken(price.CachedInputPerMillion ?? price.InputPerMillion), UsdTicks.PerToken(price.OutputPerMillion));
        }
    }

    /// <summary>No prices: nothing is estimated.</summary>
    public static PriceTable Empty { get; } = new(new Dictionary<string, ModelPrice>());

    /// <summary>Whether the table has no prices.</summary>
    public bool IsEmpty => _rates.Count == 0;

    /// <summary>The estimated cost in ticks, or null when <paramref name="model"/> has no price.</summary>
    public long? Estimate(string? model, long prompt, long cached, long completion, long reasoning)
    {
        if (model is null || !_rates.TryGetValue(model, out var r))
        {
            return null;
        }
        var fresh = Math.Max(0, prompt - cached);
        return (long)Math.Round(fresh * r.Input + Math.Min(cached, prompt) * r.CachedInput + (completion + reasoning) * r.Output, MidpointRounding.AwayFromZero);
    }

    /// <summary>What <paramref name="cached"/> tokens saved against fresh input, in ticks; 0 when the model has no price.</summary>
    public long Saved(string? model, long cached) =>
        model is not null && cached > 0 && _rates.TryGetValue(model, out var r)
            ? (long)Math.Round(cached * (r.Input - r.CachedInput), MidpointRounding.AwayFromZero)
            : 0;

    private readonly record struct Rates(decimal Input, decimal CachedInput, decimal Output);
}
