using KeyPool.Core.Users;
using KeyPool.Postgres.Connections;
using Npgsql;
using NpgsqlTypes;

namespace KeyPool.Postgres.Users;

/// <summary>
/// Users in <c>user_profiles</c>; the per-group user counter is <c>api_key_stats.total_users</c>, the
/// original system's column. A sign-up raises the chosen group's counter only if it still holds the
/// count the choice was made on (a row lock on one counter, never a table lock), in the same
/// transaction as the user's row; a lost race chooses again.
/// </summary>
internal sealed class PostgresUserStore(PostgresDatabase database, TimeProvider timeProvider) : IDisposable
{
    private const int MaxAttempts = 1000;

    // Sign-ups of one process queue here rather than in the database: a few at a time win their counter
    // rows quickly, where hundreds at once would mostly lose races and hold pooled connections while retrying.
    private readonly SemaphoreSlim _signUps = new(4, 4);

    public void Dispose() => _signUps.Dispose();

    public Task<UserRecord?> FindAsync(string userId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(userId);
        return database.RunAsync(async ct =>
        {
            if (!database.UserIdType.Accepts(userId))
            {
                return null;
            }
            await using var connection = await database.OpenAsync(ct).ConfigureAwait(false);
            return await FindAsync(connection, null, userId, ct).ConfigureAwait(false);
        }, cancellationToken);
    }

    public Task<UserAssignment> GetOrAssignAsync(string userId, string tier, IReadOnlyList<int> availableGroups, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(userId);
        ArgumentNullException.ThrowIfNull(tier);
        ArgumentNullException.ThrowIfNull(availableGroups);
        return database.RunAsync(ct => AssignAsync(userId, tier, availableGroups, ct), cancellationToken);
    }

    public Task<UserRecord?> UpdateAsync(string userId, string? tier, int? apiKeyGroup, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(userId);
        return database.RunAsync(async ct =>
        {
            if (!database.UserIdType.Accepts(userId))
            {
                return null;
            }
            var id = database.UserIdType;
            await using var connection = await database.OpenAsync(ct).ConfigureAwait(false);
            await using var transaction = await connection.BeginTransactionAsync(ct).ConfigureAwait(false);
            int from;
            await using (var locking = new NpgsqlCommand(
                $"SELECT api_key_group FROM user_profiles WHERE id = $1{id.FromText} AND api_key_group IS NOT NULL FOR UPDATE;", connection, transaction))
            {
                locking.Parameters.Add(new NpgsqlParameter<string> { TypedValue = userId });
                if (await locking.ExecuteScalarAsync(ct).ConfigureAwait(false) is not int group)
                {
                    return null;
                }
                from = group;
            }
            var to = apiKeyGroup ?? from;
            // The user's row is held first, then the counters in group order, as sign-ups and the rebalancer take them.
            await using (var update = new NpgsqlCommand(
                $"UPDATE user_profiles SET tier = COALESCE($2, tier), api_key_group = $3 WHERE id = $1{id.FromText};", connection, transaction))
            {
                update.Parameters.Add(new NpgsqlParameter<string> { TypedValue = userId });
                update.Parameters.Add(new NpgsqlParameter { Value = (object?)tier ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
                update.Parameters.Add(new NpgsqlParameter<int> { TypedValue = to });
                await update.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            }
            if (to != from)
            {
                await using var counted = new NpgsqlCommand(
                    """
                    INSERT INTO api_key_stats AS s (key_group, total_users)
                    SELECT g, d FROM (VALUES ($1::integer, -1), ($2::integer, 1)) AS m(g, d) ORDER BY g
                    ON CONFLICT (key_group) DO UPDATE SET total_users = s.total_users + EXCLUDED.total_users;
                    """, connection, transaction);
                counted.Parameters.Add(new NpgsqlParameter<int> { TypedValue = from });
                counted.Parameters.Add(new NpgsqlParameter<int> { TypedValue = to });
                await counted.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            }
            var updated = await FindAsync(connection, transaction, userId, ct).ConfigureAwait(false);
            await transaction.CommitAsync(ct).ConfigureAwait(false);
            return updated;
        }, cancellationToken);
    }

    public Task<IReadOnlyDictionary<int, long>> CountUsersByGroupAsync(CancellationToken cancellationToken) =>
        database.RunAsync<IReadOnlyDictionary<int, long>>(async ct =>
        {
            await using var connection = await database.OpenAsync(ct).ConfigureAwait(false);
            await using var command = new NpgsqlCommand(
                "SELECT key_group, total_users::bigint FROM api_key_stats WHERE total_users > 0 ORDER BY key_group;", connection);
            await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
            var counts = new Dictionary<int, long>();
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                counts[reader.GetInt32(0)] = reader.GetInt64(1);
            }
            return counts;
        }, cancellationToken);

    public Task<long> CountUsersAsync(CancellationToken cancellationToken) =>
        database.RunAsync(async ct =>
        {
            await using var connection = await database.OpenAsync(ct).ConfigureAwait(false);
            await using var command = new NpgsqlCommand("SELECT COALESCE(sum(total_users), 0)::bigint FROM api_key_stats;", connection);
            return (long)(await command.ExecuteScalarAsync(ct).ConfigureAwait(false))!;
        }, cancellationToken);

    private async Task<UserAssignment> AssignAsync(string userId, string tier, IReadOnlyList<int> availableGroups, CancellationToken cancellationToken)
    {
        if (!database.UserIdType.Accepts(userId))
        {
            throw new ArgumentException($"user_profiles.id is a uuid column, so the user id must be a uuid.", nameof(userId));
        }
        // Known users, by far the common case, are answered by one indexed read without queueing.
        await using (var reading = await database.OpenAsync(cancellationToken).ConfigureAwait(false))
        {
            if (await FindAsync(reading, null, userId, cancellationToken).ConfigureAwait(false) is { } known)
            {
                return new UserAssignment(known, Created: false);
            }
        }
        if (availableGroups.Count == 0)
        {
            throw new InvalidOperationException("No key group is available to assign.");
        }

        var groups = availableGroups.Distinct().ToArray();
        await _signUps.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
            return await AssignNewAsync(connection, userId, tier, groups, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _signUps.Release();
        }
    }

    private async Task<UserAssignment> AssignNewAsync(NpgsqlConnection connection, string userId, string tier, int[] groups, CancellationToken cancellationToken)
    {
        var id = database.UserIdType;
        // One statement per attempt (BEGIN goes with it, COMMIT follows): choose the least-loaded group, store
        // the user, and raise the group's counter only if it still holds the count the choice was made on.
        // The user's row comes first so a sign-up never holds a counter while waiting for a user row (an import
        // holding that row and waiting for the counter would deadlock with it); a failed attempt is rolled back.
        // Under READ COMMITTED a concurrent raise that committed first makes the ON CONFLICT ... WHERE fail on
        // the new row version, so nothing is raised and the attempt is repeated. Counts only grow, so a group
        // still at the minimum it was chosen at keeps every group within one of each other.
        var sql =
            $"""
            WITH pick AS (
                SELECT g.key_group, COALESCE(s.total_users, 0)::bigint AS seen
                FROM unnest($1::integer[]) AS g(key_group)
                LEFT JOIN api_key_stats s ON s.key_group = g.key_group
                ORDER BY 2, CASE WHEN $5 THEN random() ELSE 0 END, 1
                LIMIT 1
            ),
            stored AS (
                INSERT INTO user_profiles AS u (id, api_key_group, tier, created_at)
                SELECT $2{id.FromText}, key_group, $3, $4 FROM pick
                ON CONFLICT (id) DO UPDATE SET api_key_group = EXCLUDED.api_key_group WHERE u.api_key_group IS NULL
                RETURNING u.api_key_group
            ),
            raised AS (
                INSERT INTO api_key_stats AS s (key_group, total_users) SELECT api_key_group, 1 FROM stored
                ON CONFLICT (key_group) DO UPDATE SET total_users = s.total_users + 1
                    WHERE s.total_users = (SELECT seen FROM pick)
                RETURNING s.key_group
            )
            SELECT (SELECT key_group FROM raised), (SELECT api_key_group FROM stored);
            """;
        for (var attempt = 0; attempt < MaxAttempts; attempt++)
        {
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            int? raised, stored;
            await using (var command = new NpgsqlCommand(sql, connection, transaction))
            {
                command.Parameters.Add(new NpgsqlParameter<int[]> { TypedValue = groups, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Integer });
                command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = userId });
                command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tier });
                command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = timeProvider.GetUtcNow().ToUniversalTime() });
                // The first choice follows the rule exactly (fewest users, ties to the lowest group); after a lost
                // race any of the tied groups will do, so racing sign-ups spread instead of queueing on one row.
                command.Parameters.Add(new NpgsqlParameter<bool> { TypedValue = attempt > 0 });
                await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                raised = reader.IsDBNull(0) ? null : reader.GetInt32(0);
                stored = reader.IsDBNull(1) ? null : reader.GetInt32(1);
            }
            if (stored is null)
            {
                // Another instance stored this user first (this statement waited for that commit): theirs stands.
                await transaction.RollbackAsync(cancellationToken).ConfigureAwait(false);
                var raced = await FindAsync(connection, null, userId, cancellationToken).ConfigureAwait(false)
                    ?? throw new InvalidOperationException($"User '{userId}' exists without a key group and could not be assigned one.");
                return new UserAssignment(raced, Created: false);
            }
            if (raised is null)
            {
                await transaction.RollbackAsync(cancellationToken).ConfigureAwait(false);
                continue;
            }
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            return new UserAssignment(new UserRecord(userId, stored.Value, tier), Created: true);
        }
        throw new InvalidOperationException($"Could not assign a key group to '{userId}' after {MaxAttempts} attempts: too many concurrent sign-ups.");
    }

    private async Task<UserRecord?> FindAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string userId, CancellationToken cancellationToken)
    {
        var id = database.UserIdType;
        await using var command = new NpgsqlCommand(
            $"SELECT id{id.ToText}, api_key_group, tier FROM user_profiles WHERE id = $1{id.FromText} AND api_key_group IS NOT NULL;", connection, transaction);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = userId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false)
            ? new UserRecord(reader.GetString(0), reader.GetInt32(1), reader.IsDBNull(2) ? "free" : reader.GetString(2))
            : null;
    }
}
