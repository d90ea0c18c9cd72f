using KeyPool.Core.Usage;
using KeyPool.Postgres.Connections;
using Npgsql;
using NpgsqlTypes;

namespace KeyPool.Postgres.Usage;

/// <summary>
/// Usage totals per key group in <c>api_key_stats</c>. A flush is one statement that adds
/// (<c>x = x + excluded.x</c>), so flushes from any number of instances sum exactly.
/// </summary>
internal sealed class PostgresUsageStore(PostgresDatabase database, TimeProvider timeProvider)
{
    // GREATEST ignores NULLs, so a flush without a request time keeps the stored one.
    private const string AddSql =
        """
        INSERT INTO api_key_stats AS s (key_group, total_requests, prompt_tokens, completion_tokens, reasoning_tokens,
            cached_tokens, total_tokens, errors_4xx, errors_429, errors_5xx, last_request_at, cost_ticks, estimated_cost_ticks,
            saved_ticks, usage_updated_at, updated_at)
        SELECT d.*, $12, $12
        FROM unnest($1::integer[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[],
                    $8::bigint[], $9::bigint[], $10::bigint[], $11::timestamptz[], $13::bigint[], $14::bigint[], $15::bigint[]) AS d
        ON CONFLICT (key_group) DO UPDATE SET
            total_requests    = s.total_requests    + EXCLUDED.total_requests,
            prompt_tokens     = s.prompt_tokens     + EXCLUDED.prompt_tokens,
            completion_tokens = s.completion_tokens + EXCLUDED.completion_tokens,
            reasoning_tokens  = s.reasoning_tokens  + EXCLUDED.reasoning_tokens,
            cached_tokens     = s.cached_tokens     + EXCLUDED.cached_tokens,
            total_tokens      = s.total_tokens      + EXCLUDED.total_tokens,
            errors_4xx        = s.errors_4xx        + EXCLUDED.errors_4xx,
            errors_429        = s.errors_429        + EXCLUDED.errors_429,
            errors_5xx        = s.errors_5xx        + EXCLUDED.errors_5xx,
            cost_ticks        = s.cost_ticks        + EXCLUDED.cost_ticks,
            estimated_cost_ticks = s.estimated_cost_ticks + EXCLUDED.estimated_cost_ticks,
            saved_ticks       = s.saved_ticks       + EXCLUDED.saved_ticks,
            last_request_at   = GREATEST(s.last_request_at, EXCLUDED.last_request_at),
            usage_updated_at  = EXCLUDED.usage_updated_at,
            updated_at        = EXCLUDED.updated_at;
        """;

    private const string ReadAllSql =
        """
        SELECT key_group, total_requests::bigint, prompt_tokens::bigint, completion_tokens::bigint, reasoning_tokens::bigint,
            cached_tokens::bigint, total_tokens::bigint, errors_4xx::bigint, errors_429::bigint, errors_5xx::bigint, last_request_at,
            cost_ticks, estimated_cost_ticks, saved_ticks
        FROM api_key_stats
        WHERE usage_updated_at IS NOT NULL OR total_requests <> 0 OR total_tokens <> 0 OR last_request_at IS NOT NULL
        ORDER BY key_group;
        """;

    public Task AddAsync(IReadOnlyList<KeyGroupUsage> deltas, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(deltas);
        if (deltas.Count == 0)
        {
            return Task.CompletedTask;
        }
        // One row per group: a statement cannot update the same row twice.
        var merged = deltas.GroupBy(d => d.Group).Select(g => g.Aggregate((a, b) => a.Add(b))).ToArray();
        return database.RunAsync(async ct =>
        {
            await using var connection = await database.OpenAsync(ct).ConfigureAwait(false);
            await using var command = new NpgsqlCommand(AddSql, connection);
            command.Parameters.Add(Array(merged, d => d.Group, NpgsqlDbType.Integer));
            command.Parameters.Add(Array(merged, d => d.Requests, NpgsqlDbType.Bigint));
            command.Parameters.Add(Array(merged, d => d.PromptTokens, NpgsqlDbType.Bigint));
            command.Parameters.Add(Array(merged, d => d.CompletionTokens, NpgsqlDbType.Bigint));
            command.Parameters.Add(Array(merged, d => d.ReasoningTokens, NpgsqlDbType.Bigint));
            command.Parameters.Add(Array(merged, d => d.CachedTokens, NpgsqlDbType.Bigint));
            command.Parameters.Add(Array(merged, d => d.TotalTokens, NpgsqlDbType.Bigint));
            command.Parameters.Add(Array(merged, d => d.Errors4xx, NpgsqlDbType.Bigint));
            command.Parameters.Add(Array(merged, d => d.Errors429, NpgsqlDbType.Bigint));
            command.Parameters.Add(Array(merged, d => d.Errors5xx, NpgsqlDbType.Bigint));
            command.Parameters.Add(new NpgsqlParameter<DateTimeOffset?[]>
            {
                TypedValue = merged.Select(d => d.LastRequestAt?.ToUniversalTime()).ToArray(),
                NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz,
            });
            command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = timeProvider.GetUtcNow().ToUniversalTime(), NpgsqlDbType = NpgsqlDbType.TimestampTz });
            command.Parameters.Add(Array(merged, d => d.CostTicks, NpgsqlDbType.Bigint));
            command.Parameters.Add(Array(merged, d => d.EstimatedCostTicks, NpgsqlDbType.Bigint));
            command.Parameters.Add(Array(merged, d => d.SavedTicks, NpgsqlDbType.Bigint));
            await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }, cancellationToken);
    }

    public Task<IReadOnlyList<KeyGroupUsage>> ReadAllAsync(CancellationToken cancellationToken) =>
        database.RunAsync<IReadOnlyList<KeyGroupUsage>>(async ct =>
        {
            await using var connection = await database.OpenAsync(ct).ConfigureAwait(false);
            await using var command = new NpgsqlCommand(ReadAllSql, connection);
            await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
            var rows = new List<KeyGroupUsage>();
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                rows.Add(new KeyGroupUsage(
                    reader.GetInt32(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4),
                    reader.GetInt64(5), reader.GetInt64(6), reader.GetInt64(7), reader.GetInt64(8), reader.GetInt64(9),
                    reader.IsDBNull(10) ? null : reader.GetFieldValue<DateTimeOffset>(10),
                    reader.GetInt64(11), reader.GetInt64(12), reader.GetInt64(13)));
            }
            return rows;
        }, cancellationToken);

    private static NpgsqlParameter Array<T>(KeyGroupUsage[] rows, Func<KeyGroupUsage, T> select, NpgsqlDbType type) =>
        new NpgsqlParameter<T[]> { TypedValue = rows.Select(select).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | type };
}
