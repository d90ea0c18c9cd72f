using KeyPool.Core.StoredObjects;
using KeyPool.Sqlite.Connections;
using Microsoft.Data.Sqlite;

namespace KeyPool.Sqlite.StoredObjects;

/// <summary>
/// The owners of stored objects in their own table, <c>stored_objects</c>, beside the users of the same file. Like the
/// gateway keys it is created by <see cref="InitializeAsync"/> outside the main schema's versions. Expiry is a Unix
/// second, indexed, so a purge deletes the oldest rows without a scan.
/// </summary>
public sealed class SqliteStoredObjectStore : IStoredObjectStore
{
    private readonly SqliteConnectionFactory _connections;

    /// <summary>Creates a store on a database; call <see cref="InitializeAsync"/> before use.</summary>
    /// <param name="connectionString">A Microsoft.Data.Sqlite connection string, or a plain file path.</param>
    public SqliteStoredObjectStore(string connectionString) => _connections = new SqliteConnectionFactory(connectionString);

    /// <inheritdoc />
    public Task InitializeAsync(CancellationToken cancellationToken) =>
        SqliteErrors.GuardAsync(async () =>
        {
            await using var connection = await _connections.OpenAsync(cancellationToken).ConfigureAwait(false);
            using var command = connection.CreateCommand();
            command.CommandText =
                """
                PRAGMA journal_mode = WAL;
                CREATE TABLE IF NOT EXISTS stored_objects (
                    id         TEXT    PRIMARY KEY,
                    kind       INTEGER NOT NULL,
                    team       TEXT    NOT NULL,
                    key_group  INTEGER NOT NULL,
                    user_id    TEXT    NULL,
                    expires_at INTEGER NOT NULL
                ) WITHOUT ROWID;
                CREATE INDEX IF NOT EXISTS stored_objects_expires_at ON stored_objects (expires_at);
                """;
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        });

    /// <inheritdoc />
    public Task AddAsync(IReadOnlyCollection<StoredObject> objects, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(objects);
        return SqliteErrors.GuardAsync(async () =>
        {
            await using var connection = await _connections.OpenAsync(cancellationToken).ConfigureAwait(false);
            await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText =
                """
                INSERT INTO stored_objects (id, kind, team, key_group, user_id, expires_at) VALUES ($id, $kind, $team, $group, $user, $expires)
                ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, team = excluded.team, key_group = excluded.key_group,
                    user_id = excluded.user_id, expires_at = excluded.expires_at;
                """;
            var id = command.Parameters.Add("$id", SqliteType.Text);
            var kind = command.Parameters.Add("$kind", SqliteType.Integer);
            var team = command.Parameters.Add("$team", SqliteType.Text);
            var group = command.Parameters.Add("$group", SqliteType.Integer);
            var user = command.Parameters.Add("$user", SqliteType.Text);
            var expires = command.Parameters.Add("$expires", SqliteType.Integer);
            foreach (var stored in objects)
            {
                id.Value = stored.Id;
                kind.Value = (int)stored.Kind;
                team.Value = stored.Team;
                group.Value = stored.Group;
                user.Value = (object?)stored.UserId ?? DBNull.Value;
                expires.Value = stored.ExpiresAt.ToUnixTimeSeconds();
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        });
    }

    /// <inheritdoc />
    public Task<StoredObject?> FindAsync(string id, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(id);
        return SqliteErrors.GuardAsync(async () =>
        {
            await using var connection = await _connections.OpenAsync(cancellationToken).ConfigureAwait(false);
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT id, kind, team, key_group, user_id, expires_at FROM stored_objects WHERE id = $id;";
            command.Parameters.AddWithValue("$id", id);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                return null;
            }
            return new StoredObject(reader.GetString(0), (StoredObjectKind)reader.GetInt32(1), reader.GetString(2), reader.GetInt32(3),
                reader.IsDBNull(4) ? null : reader.GetString(4), DateTimeOffset.FromUnixTimeSeconds(reader.GetInt64(5)));
        });
    }

    /// <inheritdoc />
    public Task RemoveAsync(IReadOnlyCollection<string> ids, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ids);
        return SqliteErrors.GuardAsync(async () =>
        {
            await using var connection = await _connections.OpenAsync(cancellationToken).ConfigureAwait(false);
            await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = "DELETE FROM stored_objects WHERE id = $id;";
            var id = command.Parameters.Add("$id", SqliteType.Text);
            foreach (var removed in ids)
            {
                id.Value = removed;
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        });
    }

    /// <inheritdoc />
    public Task<int> PurgeAsync(DateTimeOffset now, int max, CancellationToken cancellationToken) =>
        SqliteErrors.GuardAsync(async () =>
        {
            await using var connection = await _connections.OpenAsync(cancellationToken).ConfigureAwait(false);
            using var command = connection.CreateCommand();
            command.CommandText =
                "DELETE FROM stored_objects WHERE id IN (SELECT id FROM stored_objects WHERE expires_at <= $now ORDER BY expires_at LIMIT $max);";
            command.Parameters.AddWithValue("$now", now.ToUnixTimeSeconds());
            command.Parameters.AddWithValue("$max", Math.Max(0, max));
            return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        });
}
