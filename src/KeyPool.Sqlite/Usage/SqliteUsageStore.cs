using Dapper;
using KeyPool.Core.Usage;
using KeyPool.Sqlite.Connections;
using KeyPool.Sqlite.Schema;

namespace KeyPool.Sqlite.Usage;

/// <summary>Usage totals per key group in <c>api_key_stats</c>.</summary>
internal sealed class SqliteUsageStore(SqliteConnectionFactory connections, SemaphoreSlim writeLock, TimeProvider timeProvider)
{
    // The "o" text of two UTC times orders like the times, so max() keeps the later one;
    // COALESCE because max() of anything and NULL is NULL.
    private const string AddSql =
        """
        INSERT INTO api_key_stats (key_group, total_requests, prompt_tokens, completion_tokens, reasoning_tokens,
            cached_tokens, total_tokens, errors_4xx, errors_429, errors_5xx, last_request_at, updated_at,
            cost_ticks, estimated_cost_ticks, saved_ticks)
        VALUES (@Group, @Requests, @PromptTokens, @CompletionTokens, @ReasoningTokens,
            @CachedTokens, @TotalTokens, @Errors4xx, @Errors429, @Errors5xx, @LastRequestAt, @UpdatedAt,
            @CostTicks, @EstimatedCostTicks, @SavedTicks)
        ON CONFLICT (key_group) DO UPDATE SET
            total_requests    = total_requests    + excluded.total_requests,
            prompt_tokens     = prompt_tokens     + excluded.prompt_tokens,
            completion_tokens = completion_tokens + excluded.completion_tokens,
            reasoning_tokens  = reasoning_tokens  + excluded.reasoning_tokens,
            cached_tokens     = cached_tokens     + excluded.cached_tokens,
            total_tokens      = total_tokens      + excluded.total_tokens,
            errors_4xx        = errors_4xx        + excluded.errors_4xx,
            errors_429        = errors_429        + excluded.errors_429,
            errors_5xx        = errors_5xx        + excluded.errors_5xx,
            cost_ticks        = cost_ticks        + excluded.cost_ticks,
            estimated_cost_ticks = estimated_cost_ticks + excluded.estimated_cost_ticks,
            saved_ticks       = saved_ticks       + excluded.saved_ticks,
            last_request_at   = max(COALESCE(last_request_at, excluded.last_request_at),
                                    COALESCE(excluded.last_request_at, last_request_at)),
            updated_at        = excluded.updated_at;
        """;

    private const string ReadAllSql =
        """
        SELECT key_group AS "Group", total_requests AS Requests, prompt_tokens AS PromptTokens,
            completion_tokens AS CompletionTokens, reasoning_tokens AS ReasoningTokens, cached_tokens AS CachedTokens,
            total_tokens AS TotalTokens, errors_4xx AS Errors4xx, errors_429 AS Errors429, errors_5xx AS Errors5xx,
            last_request_at AS LastRequestAt, cost_ticks AS CostTicks, estimated_cost_ticks AS EstimatedCostTicks,
            saved_ticks AS SavedTicks
        FROM api_key_stats ORDER BY key_group;
        """;

    public async Task AddAsync(IReadOnlyList<KeyGroupUsage> deltas, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(deltas);
        if (deltas.Count == 0)
        {
            return;
        }

        var updatedAt = SqliteTime.Format(timeProvider.GetUtcNow());
        var rows = deltas.Select(d => new StatsRow
        {
            Group = d.Group,
            Requests = d.Requests,
            PromptTokens = d.PromptTokens,
            CompletionTokens = d.CompletionTokens,
            ReasoningTokens = d.ReasoningTokens,
            CachedTokens = d.CachedTokens,
            TotalTokens = d.TotalTokens,
            Errors4xx = d.Errors4xx,
            Errors429 = d.Errors429,
            Errors5xx = d.Errors5xx,
            LastRequestAt = SqliteTime.Format(d.LastRequestAt),
            UpdatedAt = updatedAt,
            CostTicks = d.CostTicks,
            EstimatedCostTicks = d.EstimatedCostTicks,
            SavedTicks = d.SavedTicks,
        }).ToList();

        await writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await using var connection = await connections.OpenAsync(cancellationToken).ConfigureAwait(false);
            using var transaction = connection.BeginTransaction(deferred: false);
            await connection.ExecuteAsync(AddSql, rows, transaction).ConfigureAwait(false);
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            writeLock.Release();
        }
    }

    public async Task<IReadOnlyList<KeyGroupUsage>> ReadAllAsync(CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<StatsRow>(ReadAllSql).ConfigureAwait(false);
        return rows.Select(r => new KeyGroupUsage(
            (int)r.Group, r.Requests, r.PromptTokens, r.CompletionTokens, r.ReasoningTokens, r.CachedTokens,
            r.TotalTokens, r.Errors4xx, r.Errors429, r.Errors5xx, SqliteTime.Parse(r.LastRequestAt),
            r.CostTicks, r.EstimatedCostTicks, r.SavedTicks)).ToList();
    }

    // Dapper's shape for api_key_stats: times as stored text, counters as SQLite's 64-bit integers.
    private sealed class StatsRow
    {
        public long Group { get; init; }
        public long Requests { get; init; }
        public long PromptTokens { get; init; }
        public long CompletionTokens { get; init; }
        public long ReasoningTokens { get; init; }
        public long CachedTokens { get; init; }
        public long TotalTokens { get; init; }
        public long Errors4xx { get; init; }
        public long Errors429 { get; init; }
        public long Errors5xx { get; init; }
        public string? LastRequestAt { get; init; }
        public string? UpdatedAt { get; init; }
        public long CostTicks { get; init; }
        public long EstimatedCostTicks { get; init; }
        public long SavedTicks { get; init; }
    }
}
