namespace KeyPool.Core.Usage;

/// <summary>Lock-free counters of one key group; fields are updated with <see cref="Interlocked"/>.</summary>
internal sealed class UsageCounters(int group)
{
    public readonly int Group = group;
    public long Requests;
    public long PromptTokens;
    public long CompletionTokens;
    public long ReasoningTokens;
    public long CachedTokens;
    public long TotalTokens;
    public long CostTicks;
    public long EstimatedCostTicks;
    public long SavedTicks;
    public long Errors4xx;
    public long Errors429;
    public long Errors5xx;
    public long LastRequestTicks; // UTC ticks, 0 = never

    public void Add(in UsageSample sample, long nowTicks)
    {
        Interlocked.Increment(ref Requests);
        if (sample.TotalTokens != 0 || sample.PromptTokens != 0)
        {
            Interlocked.Add(ref PromptTokens, sample.PromptTokens);
            Interlocked.Add(ref CompletionTokens, sample.CompletionTokens);
            Interlocked.Add(ref ReasoningTokens, sample.ReasoningTokens);
            Interlocked.Add(ref CachedTokens, sample.CachedTokens);
            Interlocked.Add(ref TotalTokens, sample.TotalTokens);
        }
        if (sample.CostTicks != 0)
        {
            Interlocked.Add(ref CostTicks, sample.CostTicks);
            if (sample.CostEstimated)
            {
                Interlocked.Add(ref EstimatedCostTicks, sample.CostTicks);
            }
        }
        if (sample.SavedTicks != 0)
        {
            Interlocked.Add(ref SavedTicks, sample.SavedTicks);
        }
        switch (sample.Status)
        {
            case 429: Interlocked.Increment(ref Errors429); break;
            case >= 500: Interlocked.Increment(ref Errors5xx); break;
            case >= 400: Interlocked.Increment(ref Errors4xx); break;
        }
        // Last writer wins: requests finishing out of order by microseconds do not matter here.
        if (nowTicks > Volatile.Read(ref LastRequestTicks))
        {
            Volatile.Write(ref LastRequestTicks, nowTicks);
        }
    }

    public void Add(KeyGroupUsage usage)
    {
        Interlocked.Add(ref Requests, usage.Requests);
        Interlocked.Add(ref PromptTokens, usage.PromptTokens);
        Interlocked.Add(ref CompletionTokens, usage.CompletionTokens);
        Interlocked.Add(ref ReasoningTokens, usage.ReasoningTokens);
        Interlocked.Add(ref CachedTokens, usage.CachedTokens);
        Interlocked.Add(ref TotalTokens, usage.TotalTokens);
        Interlocked.Add(ref CostTicks, usage.CostTicks);
        Interlocked.Add(ref EstimatedCostTicks, usage.EstimatedCostTicks);
        Interlocked.Add(ref SavedTicks, usage.SavedTicks);
        Interlocked.Add(ref Errors4xx, usage.Errors4xx);
        Interlocked.Add(ref Errors429, usage.Errors429);
        Interlocked.Add(ref Errors5xx, usage.Errors5xx);
        var ticks = usage.LastRequestAt?.UtcTicks ?? 0;
        if (ticks > Volatile.Read(ref LastRequestTicks))
        {
            Volatile.Write(ref LastRequestTicks, ticks);
        }
    }

    public KeyGroupUsage Read() => new(
        Group,
        Volatile.Read(ref Requests),
        Volatile.Read(ref PromptTokens),
        Volatile.Read(ref CompletionTokens),
        Volatile.Read(ref ReasoningTokens),
        Volatile.Read(ref CachedTokens),
        Volatile.Read(ref TotalTokens),
        Volatile.Read(ref Errors4xx),
        Volatile.Read(ref Errors429),
        Volatile.Read(ref Errors5xx),
        ToTime(Volatile.Read(ref LastRequestTicks)),
        Volatile.Read(ref CostTicks),
        Volatile.Read(ref EstimatedCostTicks),
        Volatile.Read(ref SavedTicks));

    /// <summary>
    /// Whether any count is waiting. Not just <see cref="Requests"/>: a drain racing an <see cref="Add(in UsageSample, long)"/>
    /// can take a sample's request and leave its tokens for the next flush, which must not skip them.
    /// </summary>
    public bool HasPending =>
        (Volatile.Read(ref Requests) | Volatile.Read(ref PromptTokens) | Volatile.Read(ref CompletionTokens) | Volatile.Read(ref ReasoningTokens)
        | Volatile.Read(ref CachedTokens) | Volatile.Read(ref TotalTokens) | Volatile.Read(ref Errors4xx) | Volatile.Read(ref Errors429)
        | Volatile.Read(ref Errors5xx) | Volatile.Read(ref CostTicks) | Volatile.Read(ref EstimatedCostTicks) | Volatile.Read(ref SavedTicks)) != 0;

    /// <summary>Takes the counters and zeroes them, so each unit is handed out exactly once.</summary>
    public KeyGroupUsage Drain() => new(
        Group,
        Interlocked.Exchange(ref Requests, 0),
        Interlocked.Exchange(ref PromptTokens, 0),
        Interlocked.Exchange(ref CompletionTokens, 0),
        Interlocked.Exchange(ref ReasoningTokens, 0),
        Interlocked.Exchange(ref CachedTokens, 0),
        Interlocked.Exchange(ref TotalTokens, 0),
        Interlocked.Exchange(ref Errors4xx, 0),
        Interlocked.Exchange(ref Errors429, 0),
        Interlocked.Exchange(ref Errors5xx, 0),
        ToTime(Interlocked.Exchange(ref LastRequestTicks, 0)),
        Interlocked.Exchange(ref CostTicks, 0),
        Interlocked.Exchange(ref EstimatedCostTicks, 0),
        Interlocked.Exchange(ref SavedTicks, 0));

    private static DateTimeOffset? ToTime(long ticks) => ticks == 0 ? null : new DateTimeOffset(ticks, TimeSpan.Zero);
}
