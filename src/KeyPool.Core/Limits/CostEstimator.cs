using KeyPool.Core.Money;

namespace KeyPool.Core.Limits;

/// <summary>
/// The one place that decides what a request is expected to cost before the upstream says, the amount a spend limit
/// reserves: the price table's figure when it has the model (its prompt counted as fresh input, the dearer case), else
/// the model's recent average cost per token learned from the upstream's bills (<see cref="CostRates"/>), else nothing.
/// </summary>
public sealed class CostEstimator(PriceTable prices)
{
    private readonly PriceTable _prices = prices ?? throw new ArgumentNullException(nameof(prices));

    /// <summary>Each model's recent cost per token, learned from every answer that states its cost.</summary>
    public CostRates Rates { get; } = new();

    /// <summary>The expected cost in ticks of <paramref name="promptTokens"/> in and <paramref name="completionTokens"/> out of <paramref name="model"/>.</summary>
    public long Estimate(string? model, long promptTokens, long completionTokens)
    {
        promptTokens = Math.Max(0, promptTokens);
        completionTokens = Math.Max(0, completionTokens);
        return _prices.Estimate(model, promptTokens, 0, completionTokens, 0)
            ?? Rates.Estimate(model, promptTokens + completionTokens)
            ?? 0;
    }

    /// <summary>Learns from one answer whose cost the upstream stated: <paramref name="ticks"/> for <paramref name="tokens"/> tokens.</summary>
    public void Observe(string? model, long tokens, long ticks) => Rates.Observe(model, tokens, ticks);
}
