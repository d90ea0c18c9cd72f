using KeyPool.Core.Callers;
using KeyPool.Postgres.Connections;
using Npgsql;

namespace KeyPool.Postgres.GatewayKeys;

/// <summary>Gateway keys in <c>gateway_keys</c> (created by the versioned migrations): only the SHA-256 of each secret is stored.</summary>
public sealed class PostgresGatewayKeyStore : IGatewayKeyStore, IAsyncDisposable
{
    private const string Columns = "id, user_id, prefix, created_at, revoked_at";

    private readonly PostgresDatabase _database;
    private readonly TimeProvider _time;
    private readonly bool _migrate;

    /// <summary>Creates a store on a database; call <see cref="InitializeAsync"/> before use.</summary>
    /// <param name="connectionString">An Npgsql connection string or a <c>postgresql://</c> URI.</param>
    /// <param name="timeProvider">The clock for <c>revoked_at</c>.</param>
    /// <param name="migrate">True: <see cref="InitializeAsync"/> applies missing migrations; false: it only checks the schema.</param>
    public PostgresGatewayKeyStore(string connectionString, TimeProvider timeProvider, bool migrate)
    {
        ArgumentNullException.ThrowIfNull(timeProvider);
        _database = new PostgresDatabase(connectionString);
        _time = timeProvider;
        _migrate = migrate;
    }

    /// <inheritdoc />
    public Task InitializeAsync(CancellationToken cancellationToken) => _database.InitializeAsync(_migrate, cancellationToken);

    /// <inheritdoc />
    public Task AddAsync(GatewayKey key, GatewayKeyHash hash, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        return _database.RunAsync(async ct =>
        {
            await using var connection = await _database.OpenAsync(ct).ConfigureAwait(false);
            await using var command = new NpgsqlCommand(
                "INSERT INTO gateway_keys (id, user_id, key_hash, prefix, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6);", connection);
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = key.Id });
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = key.UserId });
            command.Parameters.Add(new NpgsqlParameter<byte[]> { TypedValue = hash.ToArray() });
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = key.Prefix });
            command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = key.CreatedAt.ToUniversalTime() });
            command.Parameters.Add(new NpgsqlParameter<DateTimeOffset?> { TypedValue = key.RevokedAt?.ToUniversalTime(), NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });
            await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<GatewayKey?> FindByHashAsync(GatewayKeyHash hash, CancellationToken cancellationToken) =>
        _database.RunAsync(async ct =>
        {
            await using var connection = await _database.OpenAsync(ct).ConfigureAwait(false);
            await using var command = new NpgsqlCommand($"SELECT {Columns}, key_hash FROM gateway_keys WHERE key_hash = $1;", connection);
            command.Parameters.Add(new NpgsqlParameter<byte[]> { TypedValue = hash.ToArray() });
            await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
            if (!await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                return null;
            }
            // The index found the row by equality; the stored hash is compared again in constant time
            // so no code path decides on the secret with an early-exit comparison.
            var stored = reader.GetFieldValue<byte[]>(5);
            return stored.Length == GatewayKeyHash.Size && GatewayKeyHash.FromBytes(stored).FixedTimeEquals(hash) ? Read(reader) : null;
        }, cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<GatewayKey>> ListAsync(string userId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(userId);
        return _database.RunAsync<IReadOnlyList<GatewayKey>>(async ct =>
        {
            await using var connection = await _database.OpenAsync(ct).ConfigureAwait(false);
            await using var command = new NpgsqlCommand($"SELECT {Columns} FROM gateway_keys WHERE user_id = $1 ORDER BY created_at, id;", connection);
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = userId });
            await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
            var keys = new List<GatewayKey>();
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                keys.Add(Read(reader));
            }
            return keys;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<GatewayKeyHash?> RevokeAsync(string userId, string keyId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(userId);
        ArgumentNullException.ThrowIfNull(keyId);
        return _database.RunAsync(async ct =>
        {
            await using var connection = await _database.OpenAsync(ct).ConfigureAwait(false);
            // One statement: revoked and hash read back atomically; a key already revoked keeps its first time.
            await using var command = new NpgsqlCommand(
                "UPDATE gateway_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2 AND user_id = $3 RETURNING key_hash;", connection);
            command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = _time.GetUtcNow().ToUniversalTime() });
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = keyId });
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = userId });
            return await command.ExecuteScalarAsync(ct).ConfigureAwait(false) is byte[] hash ? GatewayKeyHash.FromBytes(hash) : (GatewayKeyHash?)null;
        }, cancellationToken);
    }

    /// <summary>Closes this store's pooled connections.</summary>
    public ValueTask DisposeAsync() => _database.DisposeAsync();

    private static GatewayKey Read(NpgsqlDataReader reader) => new(
        reader.GetString(0),
        reader.GetString(1),
        reader.GetString(2),
        reader.GetFieldValue<DateTimeOffset>(3),
        reader.IsDBNull(4) ? null : reader.GetFieldValue<DateTimeOffset>(4));
}
