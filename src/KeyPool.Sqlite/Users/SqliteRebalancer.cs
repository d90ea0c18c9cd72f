using Dapper;
using KeyPool.Core.Users;
using KeyPool.Sqlite.Connections;
using Microsoft.Data.Sqlite;

namespace KeyPool.Sqlite.Users;

/// <summary>
/// Carries out a <see cref="RebalancePlan"/>: one pass over <c>user_profiles</c> in id order (the primary
/// key, so no extra index is needed), moving users of giving groups to taking groups, each batch
/// in its own transaction together with the counter updates.
/// </summary>
internal sealed class SqliteRebalancer(SqliteConnectionFactory connections, SemaphoreSlim writeLock)
{
    public async Task<RebalanceResult> RebalanceAsync(IReadOnlyList<int> availableGroups, bool dryRun, int batchSize, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        Dictionary<int, long> counts;
        await using (var connection = await connections.OpenAsync(cancellationToken).ConfigureAwait(false))
        {
            counts = (await connection.QueryAsync<(long Group, long Count)>("SELECT key_group, user_count FROM api_key_group_users WHERE user_count > 0;").ConfigureAwait(false))
                .ToDictionary(r => (int)r.Group, r => r.Count);
        }
        var plan = RebalancePlan.For(counts, availableGroups);
        if (dryRun || plan.Moves == 0)
        {
            return new RebalanceResult(plan, 0);
        }

        var give = new Dictionary<int, long>(plan.Give);
        var take = new Queue<(int Group, long Need)>(plan.Take.OrderBy(t => t.Key).Select(t => (t.Key, t.Value)));
        var moved = 0L;
        var after = "";
        while (give.Values.Any(v => v > 0) && take.Count > 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            await writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                await using var connection = await connections.OpenAsync(cancellationToken).ConfigureAwait(false);
                using var transaction = connection.BeginTransaction(deferred: false);
                var batch = (await connection.QueryAsync<(string Id, long Group)>(
                    "SELECT id, api_key_group FROM user_profiles WHERE id > @after ORDER BY id LIMIT @batchSize;",
                    new { after, batchSize }, transaction).ConfigureAwait(false)).ToList();
                if (batch.Count == 0)
                {
                    break; // the end of the table: what remains came from concurrent changes; a re-run settles it
                }
                after = batch[^1].Id;
                var deltas = new Dictionary<int, long>();
                using var update = connection.CreateCommand();
                update.Transaction = transaction;
                update.CommandText = "UPDATE user_profiles SET api_key_group = $to WHERE id = $id AND api_key_group = $from;";
                var id = update.Parameters.Add("$id", SqliteType.Text);
                var from = update.Parameters.Add("$from", SqliteType.Integer);
                var to = update.Parameters.Add("$to", SqliteType.Integer);
                foreach (var (userId, group) in batch)
                {
                    if (take.Count == 0 || give.GetValueOrDefault((int)group) <= 0)
                    {
                        continue;
                    }
                    var (target, need) = take.Dequeue();
                    id.Value = userId;
                    from.Value = group;
                    to.Value = target;
                    if (update.ExecuteNonQuery() == 1)
                    {
                        give[(int)group]--;
                        deltas[(int)group] = deltas.GetValueOrDefault((int)group) - 1;
                        deltas[target] = deltas.GetValueOrDefault(target) + 1;
                        moved++;
                        need--;
                    }
                    if (need > 0)
                    {
                        take.Enqueue((target, need)); // round-robin over the takers spreads each batch
                    }
                }
                foreach (var (group, delta) in deltas)
                {
                    await connection.ExecuteAsync(
                        """
                        INSERT INTO api_key_group_users (key_group, user_count) VALUES (@group, @delta)
                            ON CONFLICT (key_group) DO UPDATE SET user_count = user_count + @delta;
                        """, new { group, delta }, transaction).ConfigureAwait(false);
                }
                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                writeLock.Release();
            }
            progress?.Report(moved);
        }
        return new RebalanceResult(plan, moved);
    }
}
