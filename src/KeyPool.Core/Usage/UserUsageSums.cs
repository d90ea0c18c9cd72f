namespace KeyPool.Core.Usage;

/// <summary>Arithmetic on <see cref="UserDayUsage"/> rows.</summary>
public static class UserUsageSums
{
    /// <summary>Whether every count of <paramref name="usage"/> is zero.</summary>
    public static bool IsZero(in UserDayUsage usage) =>
        (usage.Requests | usage.PromptTokens | usage.CompletionTokens | usage.ReasoningTokens | usage.CachedTokens | usage.TotalTokens
        | usage.CostTicks | usage.EstimatedCostTicks) == 0;

    /// <summary>The counts of <paramref name="a"/> plus those of <paramref name="b"/>, under <paramref name="a"/>'s user and day.</summary>
    public static UserDayUsage Add(in UserDayUsage a, in UserDayUsage b) => a with
    {
        Requests = a.Requests + b.Requests,
        PromptTokens = a.PromptTokens + b.PromptTokens,
        CompletionTokens = a.CompletionTokens + b.CompletionTokens,
        ReasoningTokens = a.ReasoningTokens + b.ReasoningTokens,
        CachedTokens = a.CachedTokens + b.CachedTokens,
        TotalTokens = a.TotalTokens + b.TotalTokens,
        CostTicks = a.CostTicks + b.CostTicks,
        EstimatedCostTicks = a.EstimatedCostTicks + b.EstimatedCostTicks,
    };

    /// <summary>The sum of <paramref name="rows"/>, under <paramref name="userId"/> and <paramref name="day"/>.</summary>
    public static UserDayUsage Total(string userId, DateOnly day, IEnumerable<UserDayUsage> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var total = new UserDayUsage(userId, day, 0, 0, 0, 0, 0, 0);
        foreach (var row in rows)
        {
            total = Add(total, row);
        }
        return total;
    }
}
