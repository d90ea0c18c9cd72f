using Dapper;
using KeyPool.Core.Users;
using KeyPool.Sqlite.Connections;
using KeyPool.Sqlite.Schema;
using Microsoft.Data.Sqlite;

namespace KeyPool.Sqlite.Users;

/// <summary>Users and their key groups in <c>user_profiles</c>, with per-group counts in <c>api_key_group_users</c>.</summary>
internal sealed class SqliteUserStore(SqliteConnectionFactory connections, SemaphoreSlim writeLock, TimeProvider timeProvider, WriteOutage outage)
{
    private const string FindSql = "SELECT id, api_key_group, tier FROM user_profiles WHERE id = $id;";

    public async Task<UserRecord?> FindAsync(string userId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(userId);
        await using var connection = await connections.OpenAsync(cancellationToken).ConfigureAwait(false);
        return Find(connection, null, userId);
    }

    public async Task<UserAssignment> GetOrAssignAsync(
        string userId, string tier, IReadOnlyList<int> availableGroups, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(userId);
        ArgumentNullException.ThrowIfNull(tier);
        ArgumentNullException.ThrowIfNull(availableGroups);

        // Known users, by far the common case, are answered without taking the write lock.
        if (await FindAsync(userId, cancellationToken).ConfigureAwait(false) is { } known)
        {
            return new UserAssignment(known, Created: false);
        }

        // The semaphore queues this process's writers cheaply; BEGIN IMMEDIATE serialises
        // them with other processes, which wait in SQLite's busy handler. While writes are failing,
        // a sign-up fails at once rather than wait out the busy timeout (checked again after the queue).
        outage.ThrowIfRecent();
        await writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            outage.ThrowIfRecent();
            await using var connection = await connections.OpenDurableAsync(cancellationToken).ConfigureAwait(false);
            using var transaction = connection.BeginTransaction(deferred: false);

            // Another caller may have created the user between the first read and the lock.
            if (Find(connection, transaction, userId) is { } raced)
            {
                return new UserAssignment(raced, Created: false);
            }

            var counts = (await connection.QueryAsync<(long Group, long Count)>(
                    "SELECT key_group, user_count FROM api_key_group_users;", transaction: transaction).ConfigureAwait(false))
                .ToDictionary(row => (int)row.Group, row => row.Count);
            var group = FewestUsers.Pick(availableGroups, g => counts.GetValueOrDefault(g));

            await connection.ExecuteAsync(
                """
                INSERT INTO user_profiles (id, api_key_group, tier, created_at) VALUES (@id, @group, @tier, @createdAt);
                INSERT INTO api_key_group_users (key_group, user_count) VALUES (@group, 1)
                    ON CONFLICT (key_group) DO UPDATE SET user_count = user_count + 1;
                """,
                new { id = userId, group, tier, createdAt = SqliteTime.Format(timeProvider.GetUtcNow()) },
                transaction).ConfigureAwait(false);
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            return new UserAssignment(new UserRecord(userId, group, tier), Created: true);
        }
        finally
        {
            writeLock.Release();
        }
    }

    public async Task<UserRecord?> UpdateAsync(string userId, string? tier, int? apiKeyGroup, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(userId);
        await writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await using var connection = await connections.OpenDurableAsync(cancellationToken).ConfigureAwait(false);
            using var transaction = connection.BeginTransaction(deferred: false);
            if (Find(connection, transaction, userId) is not { } user)
            {
                return null;
            }
            var updated = user with { Tier = tier ?? user.Tier, ApiKeyGroup = apiKeyGroup ?? user.ApiKeyGroup };
            await connection.ExecuteAsync(
                "UPDATE user_profiles SET tier = @tier, api_key_group = @group WHERE id = @id;",
                new { id = userId, tier = updated.Tier, group = updated.ApiKeyGroup }, transaction).ConfigureAwait(false);
            if (updated.ApiKeyGroup != user.ApiKeyGroup)
            {
                await connection.ExecuteAsync(
                    """
                    UPDATE api_key_group_users SET user_count = user_count - 1 WHERE key_group = @from;
                    INSERT INTO api_key_group_users (key_group, user_count) VALUES (@to, 1)
                        ON CONFLICT (key_group) DO UPDATE SET user_count = user_count + 1;
                    """,
                    new { from = user.ApiKeyGroup, to = updated.ApiKeyGroup }, transaction).ConfigureAwait(false);
            }
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            return updated;
        }
        finally
        {
            writeLock.Release();
        }
    }

    public Task<ImportResult> ImportRoundRobinAsync(
        IAsyncEnumerable<string> userIds, IReadOnlyList<int> groups, string tier, int batchSize,
        IProgress<long>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(userIds);
        ArgumentNullException.ThrowIfNull(groups);
        ArgumentNullException.ThrowIfNull(tier);
        if (groups.Count == 0)
        {
            throw new ArgumentException("At least one key group is needed to import users.", nameof(groups));
        }
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        var import = new RoundRobinImport(connections, writeLock, timeProvider, groups, tier, batchSize, progress);
        return import.RunAsync(userIds, cancellationToken);
    }

    public async Task<IReadOnlyDictionary<int, long>> CountUsersByGroupAsync(CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<(long Group, long Count)>(
            "SELECT key_group, user_count FROM api_key_group_users WHERE user_count > 0 ORDER BY key_group;").ConfigureAwait(false);
        return rows.ToDictionary(row => (int)row.Group, row => row.Count);
    }

    public async Task<long> CountUsersAsync(CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ExecuteScalarAsync<long>(
            "SELECT COALESCE(SUM(user_count), 0) FROM api_key_group_users;").ConfigureAwait(false);
    }

    private static UserRecord? Find(SqliteConnection connection, SqliteTransaction? transaction, string userId)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = FindSql;
        command.Parameters.AddWithValue("$id", userId);
        using var reader = command.ExecuteReader();
        return reader.Read() ? new UserRecord(reader.GetString(0), reader.GetInt32(1), reader.GetString(2)) : null;
    }
}
