namespace KeyPool.Core.Usage;

/// <summary>
/// Usage counters of one key group: totals when read from a store, deltas when flushed to one. Money in ticks
/// (1 USD = 10^10): <see cref="CostTicks"/> is all of it, <see cref="EstimatedCostTicks"/> the part the price table
/// estimated, <see cref="SavedTicks"/> what cached tokens saved.
/// </summary>
public sealed record KeyGroupUsage(
    int Group,
    long Requests,
    long PromptTokens,
    long CompletionTokens,
    long ReasoningTokens,
    long CachedTokens,
    long TotalTokens,
    long Errors4xx,
    long Errors429,
    long Errors5xx,
    DateTimeOffset? LastRequestAt,
    long CostTicks = 0,
    long EstimatedCostTicks = 0,
    long SavedTicks = 0)
{
    /// <summary>All counters zero.</summary>
    public static KeyGroupUsage Zero(int group) => new(group, 0, 0, 0, 0, 0, 0, 0, 0, 0, null);

    /// <summary>The sum of two records of the same group; the later last-request time wins.</summary>
    public KeyGroupUsage Add(KeyGroupUsage other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return new(
            Group,
            Requests + other.Requests,
            PromptTokens + other.PromptTokens,
            CompletionTokens + other.CompletionTokens,
            ReasoningTokens + other.ReasoningTokens,
            CachedTokens + other.CachedTokens,
            TotalTokens + other.TotalTokens,
            Errors4xx + other.Errors4xx,
            Errors429 + other.Errors429,
            Errors5xx + other.Errors5xx,
            Max(LastRequestAt, other.LastRequestAt),
            CostTicks + other.CostTicks,
            EstimatedCostTicks + other.EstimatedCostTicks,
            SavedTicks + other.SavedTicks);
    }

    private static DateTimeOffset? Max(DateTimeOffset? a, DateTimeOffset? b) =>
        a is null ? b : b is null ? a : a > b ? a : b;
}
