using KeyPool.Postgres.Connections;
using Npgsql;
using NpgsqlTypes;

namespace KeyPool.Postgres.Users;

/// <summary>
/// Gives users that have no key group yet (rows the application created before KeyPool, or while no
/// gateway had published usable groups) one, round-robin in id order, a batch per transaction with the
/// counter updates. Rows are taken with <c>SKIP LOCKED</c> and through the small partial index of
/// unassigned rows, so sign-ups and requests go on while it runs, and a re-run continues where it stopped.
/// </summary>
internal sealed class Backfill(PostgresDatabase database)
{
    public Task<long> RunAsync(IReadOnlyList<int> groups, int batchSize, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(groups);
        if (groups.Count == 0)
        {
            throw new ArgumentException("At least one key group is needed to backfill users.", nameof(groups));
        }
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        return database.RunAsync(ct => BackfillAsync([.. groups], batchSize, progress, ct), cancellationToken);
    }

    private async Task<long> BackfillAsync(int[] groups, int batchSize, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        long assigned = 0;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            // The turn continues across batches ($3 = users assigned so far), so the whole run is one round-robin.
            await using var command = new NpgsqlCommand(
                """
                WITH batch AS (
                    SELECT id, row_number() OVER (ORDER BY id) - 1 AS turn
                    FROM (SELECT id FROM user_profiles WHERE api_key_group IS NULL ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED) b
                ),
                assigned AS (
                    UPDATE user_profiles u SET api_key_group = $1[1 + (($3 + b.turn) % cardinality($1))]
                    FROM batch b WHERE u.id = b.id AND u.api_key_group IS NULL
                    RETURNING u.api_key_group
                ),
                counted AS (
                    INSERT INTO api_key_stats AS s (key_group, total_users)
                    SELECT api_key_group, count(*) FROM assigned GROUP BY api_key_group ORDER BY api_key_group
                    ON CONFLICT (key_group) DO UPDATE SET total_users = s.total_users + EXCLUDED.total_users
                )
                SELECT count(*)::bigint FROM assigned;
                """, connection, transaction);
            command.CommandTimeout = 0; // a bulk statement: its time grows with the batch
            command.Parameters.Add(new NpgsqlParameter<int[]> { TypedValue = groups, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Integer });
            command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = batchSize });
            command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = assigned });
            var count = (long)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            if (count == 0)
            {
                return assigned;
            }
            assigned += count;
            progress?.Report(assigned);
        }
    }
}
