using KeyPool.Core.Storage;
using KeyPool.Core.Usage;
using KeyPool.Core.Users;
using KeyPool.Postgres.Connections;
using KeyPool.Postgres.Schema;
using KeyPool.Postgres.Usage;
using KeyPool.Postgres.Users;
using Npgsql;
using NpgsqlTypes;

namespace KeyPool.Postgres;

/// <summary>
/// The production store: users, key groups and usage in PostgreSQL with the original Supabase system's
/// tables (<c>user_profiles.api_key_group</c>, <c>api_key_stats</c>, <c>get_next_api_key_group()</c>), shared
/// by any number of KeyPool instances. Errors that mean the database cannot be reached surface as
/// <see cref="StoreUnavailableException"/>.
/// </summary>
public sealed class PostgresStore : IUserStore, IUsageStore, IUserUsageStore, IUserRebalancer, IUsableGroupStore, IAsyncDisposable
{
    private readonly PostgresDatabase _database;
    private readonly bool _migrate;
    private readonly PostgresUserStore _users;
    private readonly PostgresUsageStore _usage;
    private readonly PostgresUserUsageStore _userUsage;
    private readonly PostgresRebalancer _rebalancer;
    private readonly TimeProvider _time;

    /// <summary>Creates a store on a database; call <see cref="InitializeAsync"/> before use.</summary>
    /// <param name="connectionString">An Npgsql connection string (<c>Host=…;Database=…</c>) or a <c>postgresql://</c> URI.</param>
    /// <param name="timeProvider">The clock for <c>created_at</c> and <c>updated_at</c>.</param>
    /// <param name="migrate">True: <see cref="InitializeAsync"/> applies missing migrations (<c>serve --migrate</c>);
    /// false: it only checks that the schema is current and says what to run otherwise.</param>
    public PostgresStore(string connectionString, TimeProvider timeProvider, bool migrate)
    {
        ArgumentNullException.ThrowIfNull(timeProvider);
        _database = new PostgresDatabase(connectionString);
        _migrate = migrate;
        _time = timeProvider;
        _users = new PostgresUserStore(_database, timeProvider);
        _usage = new PostgresUsageStore(_database, timeProvider);
        _userUsage = new PostgresUserUsageStore(_database);
        _rebalancer = new PostgresRebalancer(_database);
    }

    /// <summary>The schema version this KeyPool needs.</summary>
    public static int SchemaVersion => PostgresMigrations.CurrentVersion;

    /// <summary>
    /// Applies the missing migrations (each in its own transaction, recorded in <c>keypool_schema_versions</c>),
    /// and with <paramref name="supabaseTrigger"/> installs the <c>handle_new_user</c> trigger. Returns the names applied.
    /// </summary>
    public Task<IReadOnlyList<string>> MigrateAsync(bool supabaseTrigger, CancellationToken cancellationToken) =>
        _database.RunAsync<IReadOnlyList<string>>(async ct =>
        {
            var applied = await PostgresMigrations.MigrateAsync(_database.DataSource, ct).ConfigureAwait(false);
            if (supabaseTrigger)
            {
                await PostgresMigrations.InstallSupabaseTriggerAsync(_database.DataSource, ct).ConfigureAwait(false);
            }
            return applied.Select(m => m.Name).ToArray();
        }, cancellationToken);

    /// <summary>Migrates (when constructed to) or checks the schema, and learns the type of <c>user_profiles.id</c>.</summary>
    public Task InitializeAsync(CancellationToken cancellationToken) => _database.InitializeAsync(_migrate, cancellationToken, ReadUserIdTypeAsync);

    // user_profiles may predate KeyPool (Supabase keys it by uuid): every query casts to the type it has.
    private async Task ReadUserIdTypeAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'user_profiles'::regclass AND attname = 'id';", connection);
        var type = (string?)await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        _database.UserIdType = type switch
        {
            "uuid" => UserIdType.Uuid,
            "text" or null => UserIdType.Text,
            _ when type.StartsWith("character varying", StringComparison.Ordinal) => UserIdType.Text,
            _ => throw new StoreSchemaException($"user_profiles.id is of type {type}; KeyPool supports text, varchar and uuid ids."),
        };
    }

    /// <inheritdoc />
    public Task<UserRecord?> FindAsync(string userId, CancellationToken cancellationToken) =>
        _users.FindAsync(userId, cancellationToken);

    /// <inheritdoc />
    public Task<UserAssignment> GetOrAssignAsync(string userId, string tier, IReadOnlyList<int> availableGroups, CancellationToken cancellationToken) =>
        _users.GetOrAssignAsync(userId, tier, availableGroups, cancellationToken);

    /// <inheritdoc />
    /// <remarks>Uses binary <c>COPY</c> into a temporary table, then one insert per batch. Blank ids are skipped and take no turn.</remarks>
    public Task<ImportResult> ImportRoundRobinAsync(IAsyncEnumerable<string> userIds, IReadOnlyList<int> groups, string tier, int batchSize, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(userIds);
        ArgumentNullException.ThrowIfNull(groups);
        ArgumentNullException.ThrowIfNull(tier);
        if (groups.Count == 0)
        {
            throw new ArgumentException("At least one key group is needed to import users.", nameof(groups));
        }
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        return new CopyImport(_database, _time, groups, tier, batchSize, progress).RunAsync(userIds, cancellationToken);
    }

    /// <summary>
    /// Gives every user without a key group one, round-robin over <paramref name="groups"/> in id order,
    /// <paramref name="batchSize"/> users per transaction; the application keeps serving meanwhile. Returns users assigned.
    /// </summary>
    public Task<long> BackfillAsync(IReadOnlyList<int> groups, int batchSize, IProgress<long>? progress, CancellationToken cancellationToken) =>
        new Backfill(_database).RunAsync(groups, batchSize, progress, cancellationToken);

    /// <inheritdoc />
    public Task<UserRecord?> UpdateAsync(string userId, string? tier, int? apiKeyGroup, CancellationToken cancellationToken) =>
        _users.UpdateAsync(userId, tier, apiKeyGroup, cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyDictionary<int, long>> CountUsersByGroupAsync(CancellationToken cancellationToken) =>
        _users.CountUsersByGroupAsync(cancellationToken);

    /// <summary>The number of users with a group, read from the per-group counters rather than by scanning users.</summary>
    public Task<long> CountUsersAsync(CancellationToken cancellationToken) =>
        _users.CountUsersAsync(cancellationToken);

    /// <inheritdoc />
    public Task<RebalanceResult> RebalanceAsync(IReadOnlyList<int> availableGroups, bool dryRun, int batchSize, IProgress<long>? progress, CancellationToken cancellationToken) =>
        _rebalancer.RebalanceAsync(availableGroups, dryRun, batchSize, progress, cancellationToken);

    /// <inheritdoc />
    public Task AddAsync(IReadOnlyList<KeyGroupUsage> deltas, CancellationToken cancellationToken) =>
        _usage.AddAsync(deltas, cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<KeyGroupUsage>> ReadAllAsync(CancellationToken cancellationToken) =>
        _usage.ReadAllAsync(cancellationToken);

    /// <inheritdoc />
    /// <remarks>Above a few thousand rows, by binary <c>COPY</c> into a temporary table and one upsert.</remarks>
    public Task AddAsync(IReadOnlyList<UserDayUsage> deltas, CancellationToken cancellationToken) =>
        _userUsage.AddAsync(deltas, cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<UserDayUsage>> ReadUserAsync(string userId, DateOnly from, DateOnly to, CancellationToken cancellationToken) =>
        _userUsage.ReadUserAsync(userId, from, to, cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<UserDayUsage>> TopAsync(DateOnly day, UserUsageOrder by, int count, CancellationToken cancellationToken) =>
        _userUsage.TopAsync(day, by, count, cancellationToken);

    /// <inheritdoc />
    public Task<long> DayCostAsync(DateOnly day, CancellationToken cancellationToken) =>
        _userUsage.DayCostAsync(day, cancellationToken);

    /// <inheritdoc />
    /// <remarks>Heaviest (most tokens) first.</remarks>
    public IAsyncEnumerable<UserDayUsage> ExportDayAsync(DateOnly day, CancellationToken cancellationToken) =>
        _userUsage.ExportDayAsync(day, cancellationToken);

    /// <inheritdoc />
    public Task SetUsableGroupsAsync(IReadOnlyCollection<int> groups, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(groups);
        var usable = groups.Distinct().Order().ToArray();
        return _database.RunAsync(async ct =>
        {
            await using var connection = await _database.OpenAsync(ct).ConfigureAwait(false);
            await using var transaction = await connection.BeginTransactionAsync(ct).ConfigureAwait(false);
            // Rows change only when their state does, so instances repeating the same set write nothing.
            // Counter rows are created too: the sign-up trigger raises them conditionally.
            var now = _time.GetUtcNow().ToUniversalTime();
            await using var batch = new NpgsqlBatch(connection, transaction)
            {
                BatchCommands =
                {
                    Command("UPDATE api_key_groups SET usable = false, updated_at = $2 WHERE usable AND key_group <> ALL($1);", usable, now),
                    Command(
                        """
                        INSERT INTO api_key_groups (key_group, usable, updated_at) SELECT g, true, $2 FROM unnest($1) AS g
                        ON CONFLICT (key_group) DO UPDATE SET usable = true, updated_at = EXCLUDED.updated_at WHERE NOT api_key_groups.usable;
                        """, usable, now),
                    Command("INSERT INTO api_key_stats (key_group) SELECT g FROM unnest($1) AS g ON CONFLICT (key_group) DO NOTHING;", usable, null),
                },
            };
            await batch.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            await transaction.CommitAsync(ct).ConfigureAwait(false);
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<int>> GetUsableGroupsAsync(CancellationToken cancellationToken) =>
        _database.RunAsync<IReadOnlyList<int>>(async ct =>
        {
            await using var connection = await _database.OpenAsync(ct).ConfigureAwait(false);
            await using var command = new NpgsqlCommand("SELECT key_group FROM api_key_groups WHERE usable ORDER BY key_group;", connection);
            await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
            var groups = new List<int>();
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                groups.Add(reader.GetInt32(0));
            }
            return groups;
        }, cancellationToken);

    private static NpgsqlBatchCommand Command(string sql, int[] groups, DateTimeOffset? now)
    {
        var command = new NpgsqlBatchCommand(sql);
        command.Parameters.Add(new NpgsqlParameter<int[]> { TypedValue = groups, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Integer });
        if (now is { } time)
        {
            command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = time, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        }
        return command;
    }

    /// <summary>Closes this store's pooled connections.</summary>
    public ValueTask DisposeAsync()
    {
        _users.Dispose();
        return _database.DisposeAsync();
    }
}
