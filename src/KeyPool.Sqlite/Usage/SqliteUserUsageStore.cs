using System.Globalization;
using System.Runtime.CompilerServices;
using KeyPool.Core.Usage;
using KeyPool.Sqlite.Connections;
using Microsoft.Data.Sqlite;

namespace KeyPool.Sqlite.Usage;

/// <summary>Usage per user per UTC day in <c>user_usage_daily</c>; days are stored as <c>YYYY-MM-DD</c> text.</summary>
internal sealed class SqliteUserUsageStore(SqliteConnectionFactory connections, SemaphoreSlim writeLock)
{
    private const int SortAbove = 1_000;

    private const string Columns = "user_id, day, requests, prompt_tokens, completion_tokens, reasoning_tokens, cached_tokens, total_tokens, cost_ticks, estimated_cost_ticks";

    private const string AddSql =
        $"""
        INSERT INTO user_usage_daily ({Columns})
        VALUES ($user, $day, $requests, $prompt, $completion, $reasoning, $cached, $total, $cost, $estimated)
        ON CONFLICT (user_id, day) DO UPDATE SET
            requests          = requests          + excluded.requests,
            prompt_tokens     = prompt_tokens     + excluded.prompt_tokens,
            completion_tokens = completion_tokens + excluded.completion_tokens,
            reasoning_tokens  = reasoning_tokens  + excluded.reasoning_tokens,
            cached_tokens     = cached_tokens     + excluded.cached_tokens,
            total_tokens      = total_tokens      + excluded.total_tokens,
            cost_ticks        = cost_ticks        + excluded.cost_ticks,
            estimated_cost_ticks = estimated_cost_ticks + excluded.estimated_cost_ticks;
        """;

    public async Task AddAsync(IReadOnlyList<UserDayUsage> deltas, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(deltas);
        if (deltas.Count == 0)
        {
            return;
        }
        // Key order turns random B-tree inserts into one sweep over the touched pages: the recorder hands rows
        // over in hash order, and a backlog of millions would otherwise read and write pages at random.
        var rows = deltas.Count > SortAbove
            ? [.. deltas.OrderBy(d => d.UserId, StringComparer.Ordinal).ThenBy(d => d.Day)]
            : deltas;
        await writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await using var connection = await connections.OpenAsync(cancellationToken).ConfigureAwait(false);
            using var transaction = connection.BeginTransaction(deferred: false);
            // One prepared statement, its parameters rebound per row: millions of rows without a per-row object.
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = AddSql;
            var user = command.Parameters.Add("$user", SqliteType.Text);
            var day = command.Parameters.Add("$day", SqliteType.Text);
            var counts = new[]
            {
                command.Parameters.Add("$requests", SqliteType.Integer),
                command.Parameters.Add("$prompt", SqliteType.Integer),
                command.Parameters.Add("$completion", SqliteType.Integer),
                command.Parameters.Add("$reasoning", SqliteType.Integer),
                command.Parameters.Add("$cached", SqliteType.Integer),
                command.Parameters.Add("$total", SqliteType.Integer),
                command.Parameters.Add("$cost", SqliteType.Integer),
                command.Parameters.Add("$estimated", SqliteType.Integer),
            };
            command.Prepare();
            for (var i = 0; i < rows.Count; i++)
            {
                if ((i & 0xFFF) == 0)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                }
                var delta = rows[i];
                user.Value = delta.UserId;
                day.Value = FormatDay(delta.Day);
                counts[0].Value = delta.Requests;
                counts[1].Value = delta.PromptTokens;
                counts[2].Value = delta.CompletionTokens;
                counts[3].Value = delta.ReasoningTokens;
                counts[4].Value = delta.CachedTokens;
                counts[5].Value = delta.TotalTokens;
                counts[6].Value = delta.CostTicks;
                counts[7].Value = delta.EstimatedCostTicks;
                command.ExecuteNonQuery();
            }
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            writeLock.Release();
        }
    }

    public async Task<IReadOnlyList<UserDayUsage>> ReadUserAsync(string userId, DateOnly from, DateOnly to, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(userId);
        await using var connection = await connections.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {Columns} FROM user_usage_daily WHERE user_id = $user AND day BETWEEN $from AND $to ORDER BY day;";
        command.Parameters.AddWithValue("$user", userId);
        command.Parameters.AddWithValue("$from", FormatDay(from));
        command.Parameters.AddWithValue("$to", FormatDay(to));
        return await ReadAllAsync(command, cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<UserDayUsage>> TopAsync(DateOnly day, UserUsageOrder by, int count, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        await using var connection = await connections.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {Columns} FROM user_usage_daily WHERE day = $day ORDER BY {OrderColumn(by)} DESC, user_id LIMIT $count;";
        command.Parameters.AddWithValue("$day", FormatDay(day));
        command.Parameters.AddWithValue("$count", count);
        return await ReadAllAsync(command, cancellationToken).ConfigureAwait(false);
    }

    public async Task<long> DayCostAsync(DateOnly day, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var command = connection.CreateCommand();
        // The (day, cost_ticks) index covers the sum: one range of the index, not the table.
        command.CommandText = "SELECT COALESCE(SUM(cost_ticks), 0) FROM user_usage_daily INDEXED BY user_usage_daily_by_cost WHERE day = $day;";
        command.Parameters.AddWithValue("$day", FormatDay(day));
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), CultureInfo.InvariantCulture);
    }

    public async IAsyncEnumerable<UserDayUsage> ExportDayAsync(DateOnly day, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var command = connection.CreateCommand();
        // The (day, total_tokens) index yields the heaviest first without sorting the day.
        command.CommandText = $"SELECT {Columns} FROM user_usage_daily INDEXED BY user_usage_daily_by_tokens WHERE day = $day ORDER BY total_tokens DESC;";
        command.Parameters.AddWithValue("$day", FormatDay(day));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return Read(reader);
        }
    }

    internal static string OrderColumn(UserUsageOrder by) => by switch
    {
        UserUsageOrder.Tokens => "total_tokens",
        UserUsageOrder.Requests => "requests",
        UserUsageOrder.Cost => "cost_ticks",
        _ => throw new ArgumentOutOfRangeException(nameof(by), by, "Order by Tokens, Requests or Cost."),
    };

    private static async Task<IReadOnlyList<UserDayUsage>> ReadAllAsync(SqliteCommand command, CancellationToken cancellationToken)
    {
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var rows = new List<UserDayUsage>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            rows.Add(Read(reader));
        }
        return rows;
    }

    private static UserDayUsage Read(SqliteDataReader reader) => new(
        reader.GetString(0),
        DateOnly.ParseExact(reader.GetString(1), "yyyy-MM-dd", CultureInfo.InvariantCulture),
        reader.GetInt64(2),
        reader.GetInt64(3),
        reader.GetInt64(4),
        reader.GetInt64(5),
        reader.GetInt64(6),
        reader.GetInt64(7),
        reader.GetInt64(8),
        reader.GetInt64(9));

    private static string FormatDay(DateOnly day) => day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
}
