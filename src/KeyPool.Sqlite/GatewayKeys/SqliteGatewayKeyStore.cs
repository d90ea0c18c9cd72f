using KeyPool.Core.Callers;
using KeyPool.Sqlite.Connections;
using KeyPool.Sqlite.Schema;
using Microsoft.Data.Sqlite;

namespace KeyPool.Sqlite.GatewayKeys;

/// <summary>
/// Gateway keys in their own table, <c>gateway_keys</c>, beside the users and usage of the same
/// file: only the SHA-256 of each secret is stored. The table is created by <see cref="InitializeAsync"/>
/// outside the main schema's migrations, so the feature can be switched on without a schema version.
/// </summary>
public sealed class SqliteGatewayKeyStore : IGatewayKeyStore
{
    private const string Columns = "id, user_id, prefix, created_at, revoked_at";

    private readonly SqliteConnectionFactory _connections;
    private readonly TimeProvider _time;

    /// <summary>Creates a store on a database; call <see cref="InitializeAsync"/> before use.</summary>
    /// <param name="connectionString">A Microsoft.Data.Sqlite connection string, or a plain file path.</param>
    /// <param name="timeProvider">The clock for <c>revoked_at</c>.</param>
    public SqliteGatewayKeyStore(string connectionString, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(timeProvider);
        _connections = new SqliteConnectionFactory(connectionString);
        _time = timeProvider;
    }

    /// <inheritdoc />
    public Task InitializeAsync(CancellationToken cancellationToken) =>
        SqliteErrors.GuardAsync(() => InitializeCoreAsync(cancellationToken));

    private async Task InitializeCoreAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _connections.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var command = connection.CreateCommand();
        // WAL is normally set by the main schema; setting it here too keeps a file used only for keys
        // readable while it is written. It is stored in the file, so repeating it costs nothing.
        command.CommandText =
            """
            PRAGMA journal_mode = WAL;
            CREATE TABLE IF NOT EXISTS gateway_keys (
                id         TEXT PRIMARY KEY,
                user_id    TEXT NOT NULL,
                key_hash   BLOB UNIQUE NOT NULL,
                prefix     TEXT,
                created_at TEXT,
                revoked_at TEXT NULL
            );
            CREATE INDEX IF NOT EXISTS gateway_keys_user_id ON gateway_keys (user_id);
            """;
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public Task AddAsync(GatewayKey key, GatewayKeyHash hash, CancellationToken cancellationToken) =>
        SqliteErrors.GuardAsync(() => AddCoreAsync(key, hash, cancellationToken));

    private async Task AddCoreAsync(GatewayKey key, GatewayKeyHash hash, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        await using var connection = await _connections.OpenDurableAsync(cancellationToken).ConfigureAwait(false);
        using var command = connection.CreateCommand();
        command.CommandText =
            "INSERT INTO gateway_keys (id, user_id, key_hash, prefix, created_at, revoked_at) VALUES ($id, $user, $hash, $prefix, $created, $revoked);";
        command.Parameters.AddWithValue("$id", key.Id);
        command.Parameters.AddWithValue("$user", key.UserId);
        command.Parameters.AddWithValue("$hash", hash.ToArray());
        command.Parameters.AddWithValue("$prefix", key.Prefix);
        command.Parameters.AddWithValue("$created", SqliteTime.Format(key.CreatedAt));
        command.Parameters.AddWithValue("$revoked", (object?)SqliteTime.Format(key.RevokedAt) ?? DBNull.Value);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public Task<GatewayKey?> FindByHashAsync(GatewayKeyHash hash, CancellationToken cancellationToken) =>
        SqliteErrors.GuardAsync(() => FindByHashCoreAsync(hash, cancellationToken));

    private async Task<GatewayKey?> FindByHashCoreAsync(GatewayKeyHash hash, CancellationToken cancellationToken)
    {
        await using var connection = await _connections.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {Columns}, key_hash FROM gateway_keys WHERE key_hash = $hash;";
        command.Parameters.AddWithValue("$hash", hash.ToArray());
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            return null;
        }
        // The index found the row by equality; the stored hash is compared again in constant time
        // so no code path decides on the secret with an early-exit comparison.
        var stored = (byte[])reader.GetValue(5);
        return stored.Length == GatewayKeyHash.Size && GatewayKeyHash.FromBytes(stored).FixedTimeEquals(hash) ? Read(reader) : null;
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<GatewayKey>> ListAsync(string userId, CancellationToken cancellationToken) =>
        SqliteErrors.GuardAsync(() => ListCoreAsync(userId, cancellationToken));

    private async Task<IReadOnlyList<GatewayKey>> ListCoreAsync(string userId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(userId);
        await using var connection = await _connections.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {Columns} FROM gateway_keys WHERE user_id = $user ORDER BY created_at, id;";
        command.Parameters.AddWithValue("$user", userId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var keys = new List<GatewayKey>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            keys.Add(Read(reader));
        }
        return keys;
    }

    /// <inheritdoc />
    public Task<GatewayKeyHash?> RevokeAsync(string userId, string keyId, CancellationToken cancellationToken) =>
        SqliteErrors.GuardAsync(() => RevokeCoreAsync(userId, keyId, cancellationToken));

    private async Task<GatewayKeyHash?> RevokeCoreAsync(string userId, string keyId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(userId);
        ArgumentNullException.ThrowIfNull(keyId);
        await using var connection = await _connections.OpenDurableAsync(cancellationToken).ConfigureAwait(false);
        using var command = connection.CreateCommand();
        // One statement: the key is revoked and its hash read back atomically, and a key already
        // revoked keeps the time it was first revoked.
        command.CommandText =
            """
            UPDATE gateway_keys SET revoked_at = coalesce(revoked_at, $now)
            WHERE id = $id AND user_id = $user
            RETURNING key_hash;
            """;
        command.Parameters.AddWithValue("$now", SqliteTime.Format(_time.GetUtcNow()));
        command.Parameters.AddWithValue("$id", keyId);
        command.Parameters.AddWithValue("$user", userId);
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is byte[] hash
            ? GatewayKeyHash.FromBytes(hash)
            : null;
    }

    private static GatewayKey Read(SqliteDataReader reader) => new(
        reader.GetString(0),
        reader.GetString(1),
        reader.IsDBNull(2) ? "" : reader.GetString(2),
        reader.IsDBNull(3) ? DateTimeOffset.MinValue : SqliteTime.Parse(reader.GetString(3))!.Value,
        reader.IsDBNull(4) ? null : SqliteTime.Parse(reader.GetString(4)));
}
