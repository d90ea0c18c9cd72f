using KeyPool.Core.StoredObjects;
using KeyPool.Postgres.Connections;
using Npgsql;

namespace KeyPool.Postgres.StoredObjects;

/// <summary>
/// The owners of stored objects in <c>stored_objects</c> (created by the versioned migrations), shared by every
/// instance. A batch is one statement (arrays unnested), so a flush costs one round-trip whatever its size.
/// </summary>
public sealed class PostgresStoredObjectStore : IStoredObjectStore, IAsyncDisposable
{
    private readonly PostgresDatabase _database;
    private readonly bool _migrate;

    /// <summary>Creates a store on a database; call <see cref="InitializeAsync"/> before use.</summary>
    /// <param name="connectionString">An Npgsql connection string or a <c>postgresql://</c> URI.</param>
    /// <param name="migrate">True: <see cref="InitializeAsync"/> applies missing migrations; false: it only checks the schema.</param>
    public PostgresStoredObjectStore(string connectionString, bool migrate)
    {
        _database = new PostgresDatabase(connectionString);
        _migrate = migrate;
    }

    /// <inheritdoc />
    public Task InitializeAsync(CancellationToken cancellationToken) => _database.InitializeAsync(_migrate, cancellationToken);

    /// <inheritdoc />
    public Task AddAsync(IReadOnlyCollection<StoredObject> objects, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(objects);
        // One row per id in a batch: ON CONFLICT cannot touch the same row twice in one statement.
        var rows = objects.GroupBy(o => o.Id, StringComparer.Ordinal).Select(g => g.Last()).ToArray();
        return _database.RunAsync(async ct =>
        {
            await using var connection = await _database.OpenAsync(ct).ConfigureAwait(false);
            await using var command = new NpgsqlCommand(
                """
                INSERT INTO stored_objects (id, kind, team, key_group, user_id, expires_at)
                SELECT * FROM unnest($1::text[], $2::smallint[], $3::text[], $4::integer[], $5::text[], $6::timestamptz[])
                ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, team = excluded.team, key_group = excluded.key_group,
                    user_id = excluded.user_id, expires_at = excluded.expires_at;
                """, connection);
            command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = rows.Select(r => r.Id).ToArray() });
            command.Parameters.Add(new NpgsqlParameter<short[]> { TypedValue = rows.Select(r => (short)r.Kind).ToArray() });
            command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = rows.Select(r => r.Team).ToArray() });
            command.Parameters.Add(new NpgsqlParameter<int[]> { TypedValue = rows.Select(r => r.Group).ToArray() });
            command.Parameters.Add(new NpgsqlParameter<string?[]> { TypedValue = rows.Select(r => r.UserId).ToArray() });
            command.Parameters.Add(new NpgsqlParameter<DateTimeOffset[]> { TypedValue = rows.Select(r => r.ExpiresAt.ToUniversalTime()).ToArray() });
            await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<StoredObject?> FindAsync(string id, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(id);
        return _database.RunAsync(async ct =>
        {
            await using var connection = await _database.OpenAsync(ct).ConfigureAwait(false);
            await using var command = new NpgsqlCommand("SELECT id, kind, team, key_group, user_id, expires_at FROM stored_objects WHERE id = $1;", connection);
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = id });
            await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
            if (!await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                return null;
            }
            return (StoredObject?)new StoredObject(reader.GetString(0), (StoredObjectKind)reader.GetInt16(1), reader.GetString(2), reader.GetInt32(3),
                reader.IsDBNull(4) ? null : reader.GetString(4), reader.GetFieldValue<DateTimeOffset>(5));
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task RemoveAsync(IReadOnlyCollection<string> ids, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ids);
        return _database.RunAsync(async ct =>
        {
            await using var connection = await _database.OpenAsync(ct).ConfigureAwait(false);
            await using var command = new NpgsqlCommand("DELETE FROM stored_objects WHERE id = ANY($1);", connection);
            command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. ids] });
            await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<int> PurgeAsync(DateTimeOffset now, int max, CancellationToken cancellationToken) =>
        _database.RunAsync(async ct =>
        {
            await using var connection = await _database.OpenAsync(ct).ConfigureAwait(false);
            await using var command = new NpgsqlCommand(
                "DELETE FROM stored_objects WHERE id IN (SELECT id FROM stored_objects WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2);", connection);
            command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = now.ToUniversalTime() });
            command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = Math.Max(0, max) });
            return await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }, cancellationToken);

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _database.DisposeAsync();
}
