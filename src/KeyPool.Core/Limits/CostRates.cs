using System.Collections.Concurrent;

namespace KeyPool.Core.Limits;

/// <summary>
/// Each model's recent average cost per token, learned from the upstream's real costs: the estimate a spend limit
/// reserves when no price is configured for the model. An exponential average, so a price change shows within a few
/// dozen requests. Model names come from the catalog (bounded), and past <see cref="MaxModels"/> nothing new is learned.
/// </summary>
public sealed class CostRates
{
    /// <summary>Models learned at most.</summary>
    public const int MaxModels = 512;

    private const double Weight = 0.1;

    private readonly ConcurrentDictionary<string, double> _ticksPerToken = new(StringComparer.Ordinal);

    /// <summary>Learns from one answer: <paramref name="ticks"/> for <paramref name="tokens"/> tokens of <paramref name="model"/>.</summary>
    public void Observe(string? model, long tokens, long ticks)
    {
        if (model is null || tokens <= 0 || ticks < 0 || (_ticksPerToken.Count >= MaxModels && !_ticksPerToken.ContainsKey(model)))
        {
            return;
        }
        var rate = (double)ticks / tokens;
        _ticksPerToken.AddOrUpdate(model, rate, (_, old) => old + (Weight * (rate - old)));
    }

    /// <summary>The estimated cost of <paramref name="tokens"/> tokens of <paramref name="model"/>; null before any answer of it was seen.</summary>
    public long? Estimate(string? model, long tokens) =>
        model is not null && _ticksPerToken.TryGetValue(model, out var rate) ? (long)Math.Ceiling(rate * Math.Max(0, tokens)) : null;
}
