namespace KeyPool.Core.Budgets;

/// <summary>What a request is expected to cost before the upstream says: prompt size plus the completion it may produce.</summary>
public static class TokenEstimate
{
    /// <summary>Tokens to reserve for a request of <paramref name="bodyBytes"/> bytes asking for at most <paramref name="maxTokens"/>.</summary>
    public static long Reserve(long bodyBytes, long? maxTokens, BudgetOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var prompt = bodyBytes / Math.Max(1, options.BytesPerPromptToken);
        return Math.Max(1, prompt + Completion(maxTokens, options));
    }

    /// <summary>The completion part of <see cref="Reserve"/>: <paramref name="maxTokens"/>, or the default when unset.</summary>
    public static long Completion(long? maxTokens, BudgetOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return maxTokens is > 0 ? maxTokens.Value : options.DefaultCompletionTokens;
    }
}
