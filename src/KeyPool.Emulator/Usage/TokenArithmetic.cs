namespace KeyPool.Emulator.Usage;

/// <summary>The emulator's simple, documented token model (tests assert these numbers).</summary>
internal static class TokenArithmetic
{
    private const int CharsPerToken = 4;
    private const int TokensPerMessage = 4;
    private const int ReasoningPerCompletionToken = 2;

    /// <summary>ceil(chars / 4) + 4 per message.</summary>
    public static int PromptTokens(long contentChars, int messageCount) =>
        (int)Math.Min(int.MaxValue, (contentChars + CharsPerToken - 1) / CharsPerToken + (long)TokensPerMessage * messageCount);

    /// <summary>min(requested, cap); the cap alone when nothing was requested.</summary>
    public static int CompletionTokens(int? requested, int cap) =>
        requested is { } r ? Math.Min(r, cap) : cap;

    /// <summary>
    /// Reasoning models think on top of their answer. "non-reasoning" names are excluded because
    /// xAI's grok-4-fast-non-reasoning reports no reasoning tokens.
    /// </summary>
    public static int ReasoningTokens(string model, int completionTokens)
    {
        if (model.Contains("non-reasoning", StringComparison.OrdinalIgnoreCase))
        {
            return 0;
        }
        var reasons = model.Contains("reasoning", StringComparison.OrdinalIgnoreCase)
            || model.Contains("grok-4", StringComparison.OrdinalIgnoreCase);
        return reasons ? ReasoningPerCompletionToken * completionTokens : 0;
    }
}
