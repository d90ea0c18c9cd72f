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
        // Two sessions, each with its own staging table, so the next batch is read and copied while the
        // previous one is being inserted: the file, the COPY and the insert keep both cores busy.
        await using var first = await database.RunAsync(ct => database.OpenAsync(ct).AsTask(), cancellationToken).ConfigureAwait(false);
        await using var second = await database.RunAsync(ct => database.OpenAsync(ct).AsTask(), cancellationToken).ConfigureAwait(false);
        NpgsqlConnection[] sessions = [first, second];
        foreach (var session in sessions)
        {
            await database.RunAsync(ct => CreateStagingAsync(session, ct), cancellationToken).ConfigureAwait(false);
        }

        var inFlight = new Queue<(Task<long> Write, long ReadAfter, HashSet<string> Ids)>();
        var batch = NewBatch();
        var taken = 0; // ids read in this batch, repeats included: batches end every batchSize ids, as in every store
        long read = 0, inserted = 0, started = 0;
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
                // A repeat takes its turn but is not copied: its first occurrence is in this batch, in a batch still
                // being written (which will win), or already stored (ON CONFLICT keeps it).
                if (database.UserIdType.Accepts(id) && !InFlight(id) && batch.Ids.Add(id))
                {
                    batch.Rows.Add((id, group));
                }
                if (taken == batchSize)
                {
                    inserted += await StartAsync(batch, read).ConfigureAwait(false);
                    batch = NewBatch();
                    taken = 0;
                }
            }
            if (taken > 0)
            {
                inserted += await StartAsync(batch, read).ConfigureAwait(false);
            }
            while (inFlight.Count > 0)
            {
                inserted += await FinishOldestAsync().ConfigureAwait(false);
            }
            return new ImportResult(read, inserted, read - inserted);
        }
        finally
        {
            // Batches already started are finished (an interruption leaves whole batches only), whatever stopped the run.
            while (inFlight.Count > 0)
            {
                try
                {
                    await inFlight.Dequeue().Write.ConfigureAwait(false);
                }
                catch (Exception exception) when (exception is NpgsqlException or Core.Storage.StoreUnavailableException)
                {
                    // The error that stopped the run is the one to report.
                }
            }
            foreach (var session in sessions)
            {
                await DropStagingAsync(session).ConfigureAwait(false);
            }
        }

        bool InFlight(string id)
        {
            foreach (var (_, _, ids) in inFlight)
            {
                if (ids.Contains(id))
                {
                    return true;
                }
            }
            return false;
        }

        async Task<long> StartAsync((List<(string Id, int Group)> Rows, HashSet<string> Ids) full, long readAfter)
        {
            // Checked here so a cancelled run never starts a batch; a started one runs to its commit.
            cancellationToken.ThrowIfCancellationRequested();
            long done = 0;
            if (inFlight.Count == sessions.Length)
            {
                done = await FinishOldestAsync().ConfigureAwait(false);
            }
            var session = sessions[started++ % sessions.Length];
            inFlight.Enqueue((WriteBatchAsync(session, full.Rows, CancellationToken.None), readAfter, full.Ids));
            return done;
        }

        async Task<long> FinishOldestAsync()
        {
            var (write, readAfter, _) = inFlight.Peek();
            var added = await write.ConfigureAwait(false);
            inFlight.Dequeue();
            progress?.Report(readAfter);
            return added;
        }
    }

    private static (List<(string Id, int Group)> Rows, HashSet<string> Ids) NewBatch() => ([], new HashSet<string>(StringComparer.Ordinal));

    private static async Task DropStagingAsync(NpgsqlConnection connection)
    {
        // The temporary table would go with the session anyway; dropping it keeps a pooled session clean.
        if (connection.State != System.Data.ConnectionState.Open)
        {
            return;
        }
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

    private static async Task CreateStagingAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        // Temporary and unlogged by nature: copying into it writes no WAL.
        await using var command = new NpgsqlCommand(
            "CREATE TEMPORARY TABLE IF NOT EXISTS keypool_import (id text NOT NULL, api_key_group integer NOT NULL);", connection);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private Task<long> WriteBatchAsync(NpgsqlConnection connection, List<(string Id, int Group)> rows, CancellationToken cancellationToken) =>
        database.RunAsync(async ct =>
        {
            await using var transaction = await connection.BeginTransactionAsync(ct).ConfigureAwait(false);
            // The sort of a whole batch stays in memory instead of spilling to disk.
            await using (var truncate = new NpgsqlCommand("SET LOCAL work_mem = '256MB'; TRUNCATE keypool_import;", connection, transaction))
            {
                await truncate.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            }
            await using (var writer = await connection.BeginBinaryImportAsync(
                "COPY keypool_import (id, api_key_group) FROM STDIN (FORMAT BINARY)", ct).ConfigureAwait(false))
            {
                // Synchronous row writes: they only fill the importer's buffer (flushed when full), and an
                // awaited call per field costs more than the copy itself at millions of rows.
                foreach (var (userId, group) in rows)
                {
                    writer.StartRow();
                    writer.Write(userId, NpgsqlDbType.Text);
                    writer.Write(group, NpgsqlDbType.Integer);
                }
                writer.Timeout = TimeSpan.Zero; // no limit on completing a bulk copy
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
                    ORDER BY api_key_group -- counter rows locked in one order by every writer: no deadlock between batches
                ),
                counted AS (
                    INSERT INTO api_key_stats AS s (key_group, total_users) SELECT api_key_group, users FROM added
                    ON CONFLICT (key_group) DO UPDATE SET total_users = s.total_users + EXCLUDED.total_users
                )
                SELECT COALESCE(sum(users), 0)::bigint FROM added;
                """, connection, transaction);
            move.CommandTimeout = 0; // a bulk statement: its time grows with the batch, not a sign of a stuck server
            move.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tier });
            move.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = timeProvider.GetUtcNow().ToUniversalTime() });
            var added = (long)(await move.ExecuteScalarAsync(ct).ConfigureAwait(false))!;
            await transaction.CommitAsync(ct).ConfigureAwait(false);
            return added;
        }, cancellationToken);
}
