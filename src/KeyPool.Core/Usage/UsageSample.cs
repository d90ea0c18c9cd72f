namespace KeyPool.Core.Usage;

/// <summary>What one forwarded request cost, as reported by the upstream.</summary>
/// <param name="Group">The key group that served it.</param>
/// <param name="Status">The upstream status (or the gateway's, when the upstream could not be reached).</param>
/// <param name="PromptTokens">usage.prompt_tokens.</param>
/// <param name="CompletionTokens">usage.completion_tokens.</param>
/// <param name="ReasoningTokens">usage.completion_tokens_details.reasoning_tokens (on top of completion on xAI).</param>
/// <param name="CachedTokens">usage.prompt_tokens_details.cached_tokens (part of prompt).</param>
/// <param name="TotalTokens">usage.total_tokens, the count of record.</param>
/// <param name="CostTicks">usage.cost_in_usd_ticks (1 USD = 10^10 ticks), or the price table's estimate.</param>
/// <param name="CostEstimated">The cost is the price table's estimate, not the upstream's bill.</param>
/// <param name="SavedTicks">What the cached tokens saved against fresh input, per the price table (0 without one).</param>
public readonly record struct UsageSample(
    int Group,
    int Status,
    long PromptTokens = 0,
    long CompletionTokens = 0,
    long ReasoningTokens = 0,
    long CachedTokens = 0,
    long TotalTokens = 0,
    long CostTicks = 0,
    bool CostEstimated = false,
    long SavedTicks = 0);
