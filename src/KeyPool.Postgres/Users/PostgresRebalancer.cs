using KeyPool.Core.Users;
using KeyPool.Postgres.Connections;
using Npgsql;
using NpgsqlTypes;

namespace KeyPool.Postgres.Users;

/// <summary>
/// Carries out a <see cref="RebalancePlan"/>: one pass over <c>user_profiles</c> in id order (the primary
/// key), moving users of giving groups to taking groups; each batch is one transaction with the counter
/// updates. A user whose group changed meanwhile is not moved (the update checks the group it was read with).
/// </summary>
internal sealed class PostgresRebalancer(PostgresDatabase database)
{
    public Task<RebalanceResult> RebalanceAsync(IReadOnlyList<int> availableGroups, bool dryRun, int batchSize, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        return database.RunAsync(ct => RunAsync(availableGroups, dryRun, batchSize, progress, ct), cancellationToken);
    }

    private async Task<RebalanceResult> RunAsync(IReadOnlyList<int> availableGroups, bool dryRun, int batchSize, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var counts = new Dictionary<int, long>();
        await using (var read = new NpgsqlCommand("SELECT key_group, total_users::bigint FROM api_key_stats WHERE total_users > 0;", connection))
        await using (var reader = await read.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                counts[reader.GetInt32(0)] = reader.GetInt64(1);
            }
        }
        var plan = RebalancePlan.For(counts, availableGroups);
        if (dryRun || plan.Moves == 0)
        {
            return new RebalanceResult(plan, 0);
        }

        var give = new Dictionary<int, long>(plan.Give);
        var take = new Queue<(int Group, long Need)>(plan.Take.OrderBy(t => t.Key).Select(t => (t.Key, t.Value)));
        var giving = give.Keys.ToArray();
        var moved = 0L;
        string? after = null;
        var id = database.UserIdType;
        while (give.Values.Any(v => v > 0) && take.Count > 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            // Only users of giving groups are read; keyset paging on the primary key keeps each batch an index range.
            var batch = new List<(string Id, int Group)>(batchSize);
            await using (var select = new NpgsqlCommand(
                $"""
                SELECT id{id.ToText}, api_key_group FROM user_profiles
                WHERE ($1::text IS NULL OR id > $1{id.FromText}) AND api_key_group = ANY($2)
                ORDER BY id LIMIT $3;
                """, connection, transaction))
            {
                select.Parameters.Add(new NpgsqlParameter<string?> { TypedValue = after, NpgsqlDbType = NpgsqlDbType.Text });
                select.Parameters.Add(new NpgsqlParameter<int[]> { TypedValue = giving, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Integer });
                select.Parameters.Add(new NpgsqlParameter<int> { TypedValue = batchSize });
                await using var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    batch.Add((reader.GetString(0), reader.GetInt32(1)));
                }
            }
            if (batch.Count == 0)
            {
                break; // the end of the table: what remains came from concurrent changes; a re-run settles it
            }
            after = batch[^1].Id;

            var ids = new List<string>();
            var from = new List<int>();
            var to = new List<int>();
            foreach (var (userId, group) in batch)
            {
                if (take.Count == 0 || give.GetValueOrDefault(group) <= 0)
                {
                    continue;
                }
                var (target, need) = take.Dequeue();
                ids.Add(userId);
                from.Add(group);
                to.Add(target);
                give[group]--;
                if (need > 1)
                {
                    take.Enqueue((target, need - 1)); // round-robin over the takers spreads each batch
                }
            }

            await using (var update = new NpgsqlCommand(
                $"""
                WITH moved AS (
                    UPDATE user_profiles u SET api_key_group = m.to_group
                    FROM unnest($1::text[], $2::integer[], $3::integer[]) AS m(id, from_group, to_group)
                    WHERE u.id = m.id{id.FromText} AND u.api_key_group = m.from_group
                    RETURNING m.from_group, m.to_group
                ),
                deltas AS (
                    SELECT key_group, sum(delta) AS delta FROM (
                        SELECT from_group AS key_group, -1 AS delta FROM moved
                        UNION ALL SELECT to_group, 1 FROM moved) d
                    GROUP BY key_group
                ),
                counted AS (
                    INSERT INTO api_key_stats AS s (key_group, total_users) SELECT key_group, delta FROM deltas ORDER BY key_group
                    ON CONFLICT (key_group) DO UPDATE SET total_users = s.total_users + EXCLUDED.total_users
                )
                SELECT count(*)::bigint FROM moved;
                """, connection, transaction))
            {
                update.CommandTimeout = 0; // a bulk statement: its time grows with the batch
                update.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. ids], NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
                update.Parameters.Add(new NpgsqlParameter<int[]> { TypedValue = [.. from], NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Integer });
                update.Parameters.Add(new NpgsqlParameter<int[]> { TypedValue = [.. to], NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Integer });
                moved += (long)(await update.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
            }
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            progress?.Report(moved);
        }
        return new RebalanceResult(plan, moved);
    }
}
