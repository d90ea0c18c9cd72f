namespace KeyPool.Core.Usage;

/// <summary>One user's usage on one UTC day (issue 13): one stored row per user per day.</summary>
/// <param name="UserId">The application's id for the user.</param>
/// <param name="Day">The UTC day the requests were answered.</param>
/// <param name="Requests">Requests forwarded and answered by the upstream.</param>
/// <param name="PromptTokens">usage.prompt_tokens.</param>
/// <param name="CompletionTokens">usage.completion_tokens.</param>
/// <param name="ReasoningTokens">usage.completion_tokens_details.reasoning_tokens.</param>
/// <param name="CachedTokens">usage.prompt_tokens_details.cached_tokens.</param>
/// <param name="TotalTokens">usage.total_tokens, the count of record (and of the daily token limit).</param>
/// <param name="CostTicks">usage.cost_in_usd_ticks summed (1 USD = 10^10 ticks), estimates included.</param>
/// <param name="EstimatedCostTicks">The part of <paramref name="CostTicks"/> the price table estimated.</param>
public readonly record struct UserDayUsage(
    string UserId,
    DateOnly Day,
    long Requests,
    long PromptTokens,
    long CompletionTokens,
    long ReasoningTokens,
    long CachedTokens,
    long TotalTokens,
    long CostTicks = 0,
    long EstimatedCostTicks = 0);

/// <summary>What <see cref="IUserUsageStore.TopAsync"/> orders by.</summary>
public enum UserUsageOrder
{
    /// <summary>Total tokens, most first.</summary>
    Tokens,

    /// <summary>Requests, most first.</summary>
    Requests,

    /// <summary>Cost in USD ticks, most first.</summary>
    Cost,
}

/// <summary>The record of usage per user per day, written by the usage flush.</summary>
public interface IUserUsageStore
{
    /// <summary>
    /// Adds <paramref name="deltas"/> to the stored rows (creating missing ones) in one transaction: all or
    /// nothing, so a failed flush can be retried without double counting.
    /// </summary>
    Task AddAsync(IReadOnlyList<UserDayUsage> deltas, CancellationToken cancellationToken);

    /// <summary>The user's rows from <paramref name="from"/> to <paramref name="to"/> (both included), oldest first; days without usage are absent.</summary>
    Task<IReadOnlyList<UserDayUsage>> ReadUserAsync(string userId, DateOnly from, DateOnly to, CancellationToken cancellationToken);

    /// <summary>The <paramref name="count"/> heaviest users of <paramref name="day"/>, heaviest first.</summary>
    Task<IReadOnlyList<UserDayUsage>> TopAsync(DateOnly day, UserUsageOrder by, int count, CancellationToken cancellationToken);

    /// <summary>The cost in USD ticks of every user's usage on <paramref name="day"/>: the pool's stored spend of that day.</summary>
    Task<long> DayCostAsync(DateOnly day, CancellationToken cancellationToken);

    /// <summary>Every row of <paramref name="day"/>, streamed (millions of users must not be held in memory).</summary>
    IAsyncEnumerable<UserDayUsage> ExportDayAsync(DateOnly day, CancellationToken cancellationToken);
}
