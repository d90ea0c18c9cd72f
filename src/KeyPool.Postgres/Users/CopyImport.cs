using KeyPool.Core.Users;
using KeyPool.Postgres.Connections;
using Npgsql;
using NpgsqlTypes;

namespace KeyPool.Postgres.Users;

/// <summary>
/// One run of a round-robin import with PostgreSQL's binary <c>COPY</c>. Each batch is copied into a
/// temporary table and moved into <c>user_profiles</c> by one <c>INSERT … SELECT … ON CONFLICT</c> in the
/// same transaction as the counter updates, so an interruption leaves whole batches only. The i-th id's
/// group depends on nothing but i, so a re-run converges on the same assignment. Reading the source
/// happens outside any transaction: sign-ups are never held up by a slow file.
/// </summary>
internal sealed class CopyImport(
    PostgresDatabase database,
    TimeProvider timeProvider,
    IReadOnlyList<int> groups,
    string tier,
    int batchSize,
    IProgress<long>? progress)
{
    private readonly int[] _groups = [.. groups];

    public async Task<ImportResult> RunAsync(IAsyncEnumerable<string> userIds, CancellationToken cancellationToken)
    {
        var ids = new string[batchSize];
        var assigned = new int[batchSize];
        var count = 0; // rows to copy in this batch
        var taken = 0; // ids read in this batch, repeats included: batches end every batchSize ids, as in every store
        long read = 0, inserted = 0;
        var seenInBatch = new HashSet<string>(StringComparer.Ordinal);
        await using var connection = await database.RunAsync(ct => database.OpenAsync(ct).AsTask(), cancellationToken).ConfigureAwait(false);
        await database.RunAsync(ct => CreateStagingAsync(connection, ct), cancellationToken).ConfigureAwait(false);
        try
        {
            await foreach (var id in userIds.WithCancellation(cancellationToken).ConfigureAwait(false))
            {
                if (string.IsNullOrWhiteSpace(id))
                {
                    continue;
                }
                var group = _groups[read % _groups.Length];
                read++;
                taken++;
                // A repeat within one batch takes its turn but is not copied: the statement could not insert it twice.
                if (seenInBatch.Add(id) && database.UserIdType.Accepts(id))
                {
                    ids[count] = id;
                    assigned[count] = group;
                    count++;
                }
                if (taken == batchSize)
                {
                    inserted += await WriteBatchAsync(connection, ids, assigned, count, cancellationToken).ConfigureAwait(false);
                    count = 0;
                    taken = 0;
                    seenInBatch.Clear();
                    progress?.Report(read);
                }
            }
            if (taken > 0)
            {
                inserted += await WriteBatchAsync(connection, ids, assigned, count, cancellationToken).ConfigureAwait(false);
                progress?.Report(read);
            }
            return new ImportResult(read, inserted, read - inserted);
        }
        finally
        {
            // The temporary table would go with the session anyway; dropping it keeps a pooled session clean.
            if (connection.State == System.Data.ConnectionState.Open)
            {
                try
                {
                    await using var drop = new NpgsqlCommand("DROP TABLE IF EXISTS keypool_import;", connection);
                    await drop.ExecuteNonQueryAsync(CancellationToken.None).ConfigureAwait(false);
                }
                catch (NpgsqlException)
                {
                    // The database went away mid-import: the original error is the one to report.
                }
            }
        }
    }

    private static async Task CreateStagingAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        // Temporary and unlogged by nature: copying into it writes no WAL.
        await using var command = new NpgsqlCommand(
            "CREATE TEMPORARY TABLE IF NOT EXISTS keypool_import (id text NOT NULL, api_key_group integer NOT NULL);", connection);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private Task<long> WriteBatchAsync(NpgsqlConnection connection, string[] ids, int[] assigned, int count, CancellationToken cancellationToken)
    {
        // Checked here so a cancelled run never starts a batch it would have to roll back.
        cancellationToken.ThrowIfCancellationRequested();
        return database.RunAsync(async ct =>
        {
            await using var transaction = await connection.BeginTransactionAsync(ct).ConfigureAwait(false);
            await using (var truncate = new NpgsqlCommand("TRUNCATE keypool_import;", connection, transaction))
            {
                await truncate.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            }
            await using (var writer = await connection.BeginBinaryImportAsync(
                "COPY keypool_import (id, api_key_group) FROM STDIN (FORMAT BINARY)", ct).ConfigureAwait(false))
            {
                for (var i = 0; i < count; i++)
                {
                    await writer.StartRowAsync(ct).ConfigureAwait(false);
                    await writer.WriteAsync(ids[i], NpgsqlDbType.Text, ct).ConfigureAwait(false);
                    await writer.WriteAsync(assigned[i], NpgsqlDbType.Integer, ct).ConfigureAwait(false);
                }
                await writer.CompleteAsync(ct).ConfigureAwait(false);
            }

            var id = database.UserIdType;
            // Key order turns random B-tree inserts into one sweep over the touched pages. Users already
            // stored keep their group; rows the application created without one (not backfilled yet) get theirs.
            await using var move = new NpgsqlCommand(
                $"""
                WITH inserted AS (
                    INSERT INTO user_profiles (id, api_key_group, tier, created_at)
                    SELECT b.id{id.FromText}, b.api_key_group, $1, $2 FROM keypool_import b ORDER BY b.id{id.FromText}
                    ON CONFLICT (id) DO NOTHING
                    RETURNING api_key_group
                ),
                filled AS (
                    UPDATE user_profiles u SET api_key_group = b.api_key_group
                    FROM keypool_import b
                    WHERE u.api_key_group IS NULL AND u.id = b.id{id.FromText}
                      AND EXISTS (SELECT 1 FROM user_profiles WHERE api_key_group IS NULL)
                    RETURNING u.api_key_group
                ),
                added AS (
                    SELECT api_key_group, count(*) AS users FROM (SELECT * FROM inserted UNION ALL SELECT * FROM filled) a GROUP BY api_key_group
                ),
                counted AS (
                    INSERT INTO api_key_stats AS s (key_group, total_users) SELECT api_key_group, users FROM added
                    ON CONFLICT (key_group) DO UPDATE SET total_users = s.total_users + EXCLUDED.total_users
                )
                SELECT COALESCE(sum(users), 0)::bigint FROM added;
                """, connection, transaction);
            move.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tier });
            move.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = timeProvider.GetUtcNow().ToUniversalTime() });
            var added = (long)(await move.ExecuteScalarAsync(ct).ConfigureAwait(false))!;
            await transaction.CommitAsync(ct).ConfigureAwait(false);
            return added;
        }, cancellationToken);
    }
}
