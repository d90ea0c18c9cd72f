namespace KeyPool.Core.Usage;

/// <summary>
/// Lock-free counters of one user on one day, updated with <see cref="Interlocked"/>. Once retired (the flush
/// took it out of the table) a writer that still holds it moves what it added to a live entry, see
/// <see cref="UserUsageRecorder"/>.
/// </summary>
internal sealed class UserUsageCounters
{
    public long Requests;
    public long PromptTokens;
    public long CompletionTokens;
    public long ReasoningTokens;
    public long CachedTokens;
    public long TotalTokens;
    public long CostTicks;
    public long EstimatedCostTicks;
    private int _retired;

    public bool IsRetired => Volatile.Read(ref _retired) != 0;

    /// <summary>Marks the counters as out of the table; a full fence, so a writer's later read of <see cref="IsRetired"/> sees it.</summary>
    public void Retire() => Interlocked.Exchange(ref _retired, 1);

    public void Add(in UserDayUsage usage)
    {
        if (usage.Requests != 0)
        {
            Interlocked.Add(ref Requests, usage.Requests);
        }
        if (usage.TotalTokens != 0 || usage.PromptTokens != 0 || usage.CompletionTokens != 0)
        {
            Interlocked.Add(ref PromptTokens, usage.PromptTokens);
            Interlocked.Add(ref CompletionTokens, usage.CompletionTokens);
            Interlocked.Add(ref ReasoningTokens, usage.ReasoningTokens);
            Interlocked.Add(ref CachedTokens, usage.CachedTokens);
            Interlocked.Add(ref TotalTokens, usage.TotalTokens);
        }
        if (usage.CostTicks != 0 || usage.EstimatedCostTicks != 0)
        {
            Interlocked.Add(ref CostTicks, usage.CostTicks);
            Interlocked.Add(ref EstimatedCostTicks, usage.EstimatedCostTicks);
        }
    }

    /// <summary>Any count waiting: tokens too, since a drain racing an add can take a request and leave its tokens.</summary>
    public bool HasPending =>
        (Volatile.Read(ref Requests) | Volatile.Read(ref PromptTokens) | Volatile.Read(ref CompletionTokens)
        | Volatile.Read(ref ReasoningTokens) | Volatile.Read(ref CachedTokens) | Volatile.Read(ref TotalTokens)
        | Volatile.Read(ref CostTicks) | Volatile.Read(ref EstimatedCostTicks)) != 0;

    public UserDayUsage Read(string userId, DateOnly day) => new(
        userId,
        day,
        Volatile.Read(ref Requests),
        Volatile.Read(ref PromptTokens),
        Volatile.Read(ref CompletionTokens),
        Volatile.Read(ref ReasoningTokens),
        Volatile.Read(ref CachedTokens),
        Volatile.Read(ref TotalTokens),
        Volatile.Read(ref CostTicks),
        Volatile.Read(ref EstimatedCostTicks));

    /// <summary>Takes the counts and zeroes them, so each unit is handed out exactly once (to the flush or to a late writer).</summary>
    public UserDayUsage Drain(string userId, DateOnly day) => new(
        userId,
        day,
        Interlocked.Exchange(ref Requests, 0),
        Interlocked.Exchange(ref PromptTokens, 0),
        Interlocked.Exchange(ref CompletionTokens, 0),
        Interlocked.Exchange(ref ReasoningTokens, 0),
        Interlocked.Exchange(ref CachedTokens, 0),
        Interlocked.Exchange(ref TotalTokens, 0),
        Interlocked.Exchange(ref CostTicks, 0),
        Interlocked.Exchange(ref EstimatedCostTicks, 0));
}
