using KeyPool.Core.Users;
using KeyPool.Sqlite.Connections;
using KeyPool.Sqlite.Schema;
using Microsoft.Data.Sqlite;

namespace KeyPool.Sqlite.Users;

/// <summary>
/// One run of a round-robin import. Ids are read a batch at a time (sorted for locality) and written in
/// transactions of at most half a second, so another process's writers get the file in between; an
/// interruption leaves whole transactions only, and the i-th id's group depends on nothing but i: a
/// re-run converges on the same assignment.
/// </summary>
internal sealed class RoundRobinImport(
    SqliteConnectionFactory connections,
    SemaphoreSlim writeLock,
    TimeProvider timeProvider,
    IReadOnlyList<int> groups,
    string tier,
    int batchSize,
    IProgress<long>? progress)
{
    // Random-order ids touch pages all over the primary-key B-tree; a large page cache keeps
    // them in memory across batches (negative = KiB). Reset before the connection goes back to the pool.
    private const int ImportCacheKiB = 512 * 1024;
    private const int DefaultCacheKiB = 2000;

    // Short transactions so that other writers of the file (a gateway's sign-ups) wait little: SQLite's busy
    // handler polls a held lock every 100 ms at most, so a pause a little longer than that lets one in.
    private static readonly TimeSpan MaxTransactionTime = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan PauseBetweenTransactions = TimeSpan.FromMilliseconds(110);
    private const int RowsBetweenClockChecks = 256;

    private readonly int[] _groups = [.. groups];
    private readonly Dictionary<int, long> _addedPerGroup = [];

    public async Task<ImportResult> RunAsync(IAsyncEnumerable<string> userIds, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken).ConfigureAwait(false);
        SetCacheSize(connection, ImportCacheKiB);
        try
        {
            using var insertUser = CreateInsertUser(connection);
            using var addUsers = CreateAddUsers(connection);

            var batch = new (string Id, int Group)[batchSize];
            var count = 0;
            long read = 0, assigned = 0;
            await foreach (var id in userIds.WithCancellation(cancellationToken).ConfigureAwait(false))
            {
                if (string.IsNullOrWhiteSpace(id))
                {
                    continue;
                }
                batch[count++] = (id, _groups[read % _groups.Length]);
                read++;
                if (count == batchSize)
                {
                    assigned += await WriteBatchAsync(connection, insertUser, addUsers, batch.AsMemory(0, count), cancellationToken).ConfigureAwait(false);
                    count = 0;
                    progress?.Report(read);
                }
            }
            if (count > 0)
            {
                assigned += await WriteBatchAsync(connection, insertUser, addUsers, batch.AsMemory(0, count), cancellationToken).ConfigureAwait(false);
                progress?.Report(read);
            }
            return new ImportResult(read, assigned, read - assigned);
        }
        finally
        {
            SetCacheSize(connection, DefaultCacheKiB);
        }
    }

    private async Task<long> WriteBatchAsync(
        SqliteConnection connection, SqliteCommand insertUser, SqliteCommand addUsers,
        Memory<(string Id, int Group)> batch, CancellationToken cancellationToken)
    {
        // Checked here so a cancelled run never starts a batch it would have to roll back.
        cancellationToken.ThrowIfCancellationRequested();

        // Key order turns random B-tree inserts into a left-to-right sweep of the touched pages;
        // groups were fixed from the source order before sorting, so this changes nothing assigned.
        batch.Span.Sort(static (a, b) => string.CompareOrdinal(a.Id, b.Id));

        // Reading the source happens outside the lock and transaction, so a slow source never holds up
        // sign-ups; only the write itself does, and in short transactions: a gateway on the same file
        // waits for its sign-up at most one of them (its busy timeout is 10 s; a 500,000-id transaction
        // could outlast it), and the pause after each lets a waiting writer of another process in.
        long inserted = 0;
        var rows = batch;
        while (!rows.IsEmpty)
        {
            var (written, added) = await WriteSliceAsync(connection, insertUser, addUsers, rows, cancellationToken).ConfigureAwait(false);
            inserted += added;
            rows = rows[written..];
            if (!rows.IsEmpty)
            {
                await Task.Delay(PauseBetweenTransactions, timeProvider, cancellationToken).ConfigureAwait(false);
            }
        }
        return inserted;
    }

    // Writes rows from the start of <paramref name="rows"/> for at most MaxTransactionTime, in one transaction.
    private async Task<(int Written, long Inserted)> WriteSliceAsync(
        SqliteConnection connection, SqliteCommand insertUser, SqliteCommand addUsers,
        Memory<(string Id, int Group)> rows, CancellationToken cancellationToken)
    {
        await writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var started = timeProvider.GetTimestamp();
            using var transaction = connection.BeginTransaction(deferred: false);
            insertUser.Transaction = transaction;
            addUsers.Transaction = transaction;
            insertUser.Parameters["$created_at"].Value = SqliteTime.Format(timeProvider.GetUtcNow());

            var idParameter = insertUser.Parameters["$id"];
            var groupParameter = insertUser.Parameters["$group"];
            _addedPerGroup.Clear();
            long inserted = 0;
            var written = 0;
            var span = rows.Span;
            while (written < span.Length)
            {
                var (id, group) = span[written++];
                idParameter.Value = id;
                groupParameter.Value = group;
                if (insertUser.ExecuteNonQuery() == 1)
                {
                    inserted++;
                    _addedPerGroup[group] = _addedPerGroup.GetValueOrDefault(group) + 1;
                }
                if (written % RowsBetweenClockChecks == 0 && timeProvider.GetElapsedTime(started) >= MaxTransactionTime)
                {
                    break;
                }
            }

            var keyGroupParameter = addUsers.Parameters["$group"];
            var addedParameter = addUsers.Parameters["$added"];
            foreach (var (group, added) in _addedPerGroup)
            {
                keyGroupParameter.Value = group;
                addedParameter.Value = added;
                addUsers.ExecuteNonQuery();
            }

            transaction.Commit();
            return (written, inserted);
        }
        finally
        {
            writeLock.Release();
        }
    }

    private SqliteCommand CreateInsertUser(SqliteConnection connection)
    {
        var command = connection.CreateCommand();
        command.CommandText =
            "INSERT INTO user_profiles (id, api_key_group, tier, created_at) VALUES ($id, $group, $tier, $created_at) " +
            "ON CONFLICT (id) DO NOTHING;";
        command.Parameters.Add("$id", SqliteType.Text);
        command.Parameters.Add("$group", SqliteType.Integer);
        command.Parameters.Add("$tier", SqliteType.Text).Value = tier;
        command.Parameters.Add("$created_at", SqliteType.Text);
        command.Prepare();
        return command;
    }

    private static SqliteCommand CreateAddUsers(SqliteConnection connection)
    {
        var command = connection.CreateCommand();
        command.CommandText =
            "INSERT INTO api_key_group_users (key_group, user_count) VALUES ($group, $added) " +
            "ON CONFLICT (key_group) DO UPDATE SET user_count = user_count + excluded.user_count;";
        command.Parameters.Add("$group", SqliteType.Integer);
        command.Parameters.Add("$added", SqliteType.Integer);
        command.Prepare();
        return command;
    }

    private static void SetCacheSize(SqliteConnection connection, int kibibytes)
    {
        using var command = connection.CreateCommand();
        command.CommandText = $"PRAGMA cache_size = -{kibibytes};";
        command.ExecuteNonQuery();
    }
}
