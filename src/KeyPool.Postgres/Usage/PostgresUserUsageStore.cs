using System.Runtime.CompilerServices;
using KeyPool.Core.Usage;
using KeyPool.Postgres.Connections;
using Npgsql;
using NpgsqlTypes;

namespace KeyPool.Postgres.Usage;

/// <summary>
/// Usage per user per UTC day in <c>user_usage_daily</c>. A flush adds (<c>x = x + EXCLUDED.x</c>) in one
/// statement, so flushes from any number of instances sum exactly: small ones from arrays, large ones
/// (a backlog after an outage, millions of users) by binary <c>COPY</c> into a temporary table first.
/// </summary>
internal sealed class PostgresUserUsageStore(PostgresDatabase database)
{
    /// <summary>Above this many rows a flush copies into a temporary table instead of sending arrays.</summary>
    internal const int CopyThreshold = 5_000;

    private const string Columns = "user_id, day, requests, prompt_tokens, completion_tokens, reasoning_tokens, cached_tokens, total_tokens, cost_ticks, estimated_cost_ticks";

    // GROUP BY: a statement cannot update one row twice, and a batch may hold a user's day twice (an entry
    // retired and re-created during the drain). Key order turns random B-tree updates into one sweep.
    private static string UpsertFrom(string source) =>
        $"""
        INSERT INTO user_usage_daily AS u ({Columns})
        SELECT user_id, day, sum(requests), sum(prompt_tokens), sum(completion_tokens), sum(reasoning_tokens), sum(cached_tokens), sum(total_tokens),
            sum(cost_ticks), sum(estimated_cost_ticks)
        FROM {source}
        GROUP BY user_id, day
        ORDER BY user_id, day
        ON CONFLICT (user_id, day) DO UPDATE SET
            requests          = u.requests          + EXCLUDED.requests,
            prompt_tokens     = u.prompt_tokens     + EXCLUDED.prompt_tokens,
            completion_tokens = u.completion_tokens + EXCLUDED.completion_tokens,
            reasoning_tokens  = u.reasoning_tokens  + EXCLUDED.reasoning_tokens,
            cached_tokens     = u.cached_tokens     + EXCLUDED.cached_tokens,
            total_tokens      = u.total_tokens      + EXCLUDED.total_tokens,
            cost_ticks        = u.cost_ticks        + EXCLUDED.cost_ticks,
            estimated_cost_ticks = u.estimated_cost_ticks + EXCLUDED.estimated_cost_ticks;
        """;

    private static readonly string FromArrays = UpsertFrom(
        "unnest($1::text[], $2::date[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[]) " +
        "AS d(user_id, day, requests, prompt_tokens, completion_tokens, reasoning_tokens, cached_tokens, total_tokens, cost_ticks, estimated_cost_ticks)");

    private static readonly string FromStaging = UpsertFrom("keypool_user_usage");

    public Task AddAsync(IReadOnlyList<UserDayUsage> deltas, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(deltas);
        if (deltas.Count == 0)
        {
            return Task.CompletedTask;
        }
        return database.RunAsync(ct => deltas.Count > CopyThreshold ? CopyAsync(deltas, ct) : SendArraysAsync(deltas, ct), cancellationToken);
    }

    public Task<IReadOnlyList<UserDayUsage>> ReadUserAsync(string userId, DateOnly from, DateOnly to, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(userId);
        return database.RunAsync<IReadOnlyList<UserDayUsage>>(async ct =>
        {
            await using var connection = await database.OpenAsync(ct).ConfigureAwait(false);
            await using var command = new NpgsqlCommand($"SELECT {Columns} FROM user_usage_daily WHERE user_id = $1 AND day BETWEEN $2 AND $3 ORDER BY day;", connection);
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = userId });
            command.Parameters.Add(new NpgsqlParameter<DateOnly> { TypedValue = from });
            command.Parameters.Add(new NpgsqlParameter<DateOnly> { TypedValue = to });
            return await ReadAllAsync(command, ct).ConfigureAwait(false);
        }, cancellationToken);
    }

    public Task<IReadOnlyList<UserDayUsage>> TopAsync(DateOnly day, UserUsageOrder by, int count, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        var column = by switch
        {
            UserUsageOrder.Tokens => "total_tokens",
            UserUsageOrder.Requests => "requests",
            UserUsageOrder.Cost => "cost_ticks",
            _ => throw new ArgumentOutOfRangeException(nameof(by), by, "Order by Tokens, Requests or Cost."),
        };
        return database.RunAsync<IReadOnlyList<UserDayUsage>>(async ct =>
        {
            await using var connection = await database.OpenAsync(ct).ConfigureAwait(false);
            await using var command = new NpgsqlCommand($"SELECT {Columns} FROM user_usage_daily WHERE day = $1 ORDER BY {column} DESC, user_id LIMIT $2;", connection);
            command.Parameters.Add(new NpgsqlParameter<DateOnly> { TypedValue = day });
            command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = count });
            return await ReadAllAsync(command, ct).ConfigureAwait(false);
        }, cancellationToken);
    }

    public Task<long> DayCostAsync(DateOnly day, CancellationToken cancellationToken) =>
        database.RunAsync(async ct =>
        {
            await using var connection = await database.OpenAsync(ct).ConfigureAwait(false);
            // The (day, cost_ticks, user_id) index covers the sum; sum(bigint) is numeric, hence the cast back.
            await using var command = new NpgsqlCommand("SELECT COALESCE(sum(cost_ticks), 0)::bigint FROM user_usage_daily WHERE day = $1;", connection);
            command.Parameters.Add(new NpgsqlParameter<DateOnly> { TypedValue = day });
            return (long)(await command.ExecuteScalarAsync(ct).ConfigureAwait(false))!;
        }, cancellationToken);

    public async IAsyncEnumerable<UserDayUsage> ExportDayAsync(DateOnly day, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var connection = await database.RunAsync(ct => database.OpenAsync(ct).AsTask(), cancellationToken).ConfigureAwait(false);
        // The (day, total_tokens) index yields the heaviest first without sorting the day; rows stream as read.
        await using var command = new NpgsqlCommand($"SELECT {Columns} FROM user_usage_daily WHERE day = $1 ORDER BY total_tokens DESC;", connection) { CommandTimeout = 0 };
        command.Parameters.Add(new NpgsqlParameter<DateOnly> { TypedValue = day });
        await using var reader = await database.RunAsync(ct => command.ExecuteReaderAsync(ct), cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return Read(reader);
        }
    }

    private async Task SendArraysAsync(IReadOnlyList<UserDayUsage> deltas, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(FromArrays, connection);
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. deltas.Select(d => d.UserId)] });
        command.Parameters.Add(new NpgsqlParameter<DateOnly[]> { TypedValue = [.. deltas.Select(d => d.Day)] });
        command.Parameters.Add(Counts(deltas, d => d.Requests));
        command.Parameters.Add(Counts(deltas, d => d.PromptTokens));
        command.Parameters.Add(Counts(deltas, d => d.CompletionTokens));
        command.Parameters.Add(Counts(deltas, d => d.ReasoningTokens));
        command.Parameters.Add(Counts(deltas, d => d.CachedTokens));
        command.Parameters.Add(Counts(deltas, d => d.TotalTokens));
        command.Parameters.Add(Counts(deltas, d => d.CostTicks));
        command.Parameters.Add(Counts(deltas, d => d.EstimatedCostTicks));
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task CopyAsync(IReadOnlyList<UserDayUsage> deltas, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        // Temporary (no WAL for the copy) and gone at commit; the sort of the batch stays in memory.
        await using (var create = new NpgsqlCommand(
            """
            SET LOCAL work_mem = '256MB';
            CREATE TEMPORARY TABLE keypool_user_usage (
                user_id text NOT NULL, day date NOT NULL, requests bigint NOT NULL, prompt_tokens bigint NOT NULL,
                completion_tokens bigint NOT NULL, reasoning_tokens bigint NOT NULL, cached_tokens bigint NOT NULL, total_tokens bigint NOT NULL,
                cost_ticks bigint NOT NULL, estimated_cost_ticks bigint NOT NULL
            ) ON COMMIT DROP;
            """, connection, transaction))
        {
            await create.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        await using (var writer = await connection.BeginBinaryImportAsync($"COPY keypool_user_usage ({Columns}) FROM STDIN (FORMAT BINARY)", cancellationToken).ConfigureAwait(false))
        {
            // Synchronous row writes only fill the importer's buffer; an awaited call per field costs more than the copy.
            for (var i = 0; i < deltas.Count; i++)
            {
                var delta = deltas[i];
                writer.StartRow();
                writer.Write(delta.UserId, NpgsqlDbType.Text);
                writer.Write(delta.Day, NpgsqlDbType.Date);
                writer.Write(delta.Requests, NpgsqlDbType.Bigint);
                writer.Write(delta.PromptTokens, NpgsqlDbType.Bigint);
                writer.Write(delta.CompletionTokens, NpgsqlDbType.Bigint);
                writer.Write(delta.ReasoningTokens, NpgsqlDbType.Bigint);
                writer.Write(delta.CachedTokens, NpgsqlDbType.Bigint);
                writer.Write(delta.TotalTokens, NpgsqlDbType.Bigint);
                writer.Write(delta.CostTicks, NpgsqlDbType.Bigint);
                writer.Write(delta.EstimatedCostTicks, NpgsqlDbType.Bigint);
            }
            writer.Timeout = TimeSpan.Zero; // no limit on completing a bulk copy
            await writer.CompleteAsync(cancellationToken).ConfigureAwait(false);
        }
        await using (var upsert = new NpgsqlCommand(FromStaging, connection, transaction) { CommandTimeout = 0 })
        {
            await upsert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    private static NpgsqlParameter<long[]> Counts(IReadOnlyList<UserDayUsage> deltas, Func<UserDayUsage, long> count) =>
        new() { TypedValue = [.. deltas.Select(count)], NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint };

    private static async Task<IReadOnlyList<UserDayUsage>> ReadAllAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var rows = new List<UserDayUsage>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            rows.Add(Read(reader));
        }
        return rows;
    }

    private static UserDayUsage Read(NpgsqlDataReader reader) => new(
        reader.GetString(0),
        reader.GetFieldValue<DateOnly>(1),
        reader.GetInt64(2),
        reader.GetInt64(3),
        reader.GetInt64(4),
        reader.GetInt64(5),
        reader.GetInt64(6),
        reader.GetInt64(7),
        reader.GetInt64(8),
        reader.GetInt64(9));
}
