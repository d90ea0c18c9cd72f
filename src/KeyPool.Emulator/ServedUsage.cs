namespace KeyPool.Emulator;

/// <summary>
/// What one answer told its client it used and cost, in xAI's terms: cached tokens are part of the
/// input, reasoning tokens come on top of the output, and the total is input + output + reasoning.
/// </summary>
public sealed record ServedUsage(int InputTokens, int CachedTokens, int OutputTokens, int ReasoningTokens, int TotalTokens, long CostInUsdTicks)
{
    /// <summary>Nothing used.</summary>
    public static ServedUsage Zero { get; } = new(0, 0, 0, 0, 0, 0);

    /// <summary>The usage of <paramref name="served"/> added up (entries without usage count nothing).</summary>
    public static ServedUsage Sum(IEnumerable<ServedRequest> served)
    {
        ArgumentNullException.ThrowIfNull(served);
        var sum = Zero;
        foreach (var s in served)
        {
            if (s.Usage is { } u)
            {
                sum = sum.Plus(u);
            }
        }
        return sum;
    }

    /// <summary>Both usages added up.</summary>
    public ServedUsage Plus(ServedUsage other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return new ServedUsage(
            InputTokens + other.InputTokens,
            CachedTokens + other.CachedTokens,
            OutputTokens + other.OutputTokens,
            ReasoningTokens + other.ReasoningTokens,
            TotalTokens + other.TotalTokens,
            CostInUsdTicks + other.CostInUsdTicks);
    }
}
