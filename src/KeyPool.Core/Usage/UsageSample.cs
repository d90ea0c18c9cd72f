namespace KeyPool.Core.Usage;

/// <summary>What one forwarded request cost, as reported by the upstream.</summary>
/// <param name="Group">The key group that served it.</param>
/// <param name="Status">The upstream status (or the gateway's, when the upstream could not be reached).</param>
/// <param name="PromptTokens">usage.prompt_tokens.</param>
/// <param name="CompletionTokens">usage.completion_tokens.</param>
/// <param name="ReasoningTokens">usage.completion_tokens_details.reasoning_tokens (on top of completion on xAI).</param>
/// <param name="CachedTokens">usage.prompt_tokens_details.cached_tokens (part of prompt).</param>
/// <param name="TotalTokens">usage.total_tokens, the count of record.</param>
public readonly record struct UsageSample(
    int Group,
    int Status,
    long PromptTokens = 0,
    long CompletionTokens = 0,
    long ReasoningTokens = 0,
    long CachedTokens = 0,
    long TotalTokens = 0);
