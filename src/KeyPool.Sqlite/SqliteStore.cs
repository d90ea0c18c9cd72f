using KeyPool.Core.Usage;
using KeyPool.Core.Users;
using KeyPool.Sqlite.Connections;
using KeyPool.Sqlite.Schema;
using KeyPool.Sqlite.Usage;
using KeyPool.Sqlite.Users;

namespace KeyPool.Sqlite;

/// <summary>
/// The embedded store: users, their key groups and usage totals in one SQLite file (WAL mode).
/// Safe to share within a process and to open from several processes on the same file.
/// </summary>
public sealed class SqliteStore : IUserStore, IUsageStore, IUserUsageStore, IUserRebalancer, IAsyncDisposable
{
    private readonly SqliteConnectionFactory _connections;

    // SQLite allows one writer per file; queueing this process's writers here keeps them
    // off SQLite's polling busy handler, which then only arbitrates between processes.
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly SqliteUserStore _users;
    private readonly SqliteUsageStore _usage;
    private readonly SqliteUserUsageStore _userUsage;
    private readonly SqliteRebalancer _rebalancer;
    private readonly WriteOutage _outage;

    /// <summary>Creates a store on a database; call <see cref="InitializeAsync"/> before use.</summary>
    /// <param name="connectionString">A Microsoft.Data.Sqlite connection string such as
    /// <c>Data Source=keypool.db</c>, or a plain file path (any value without '=').</param>
    /// <param name="timeProvider">The clock for <c>created_at</c> and <c>updated_at</c>.</param>
    /// <param name="maxSizeBytes">When positive, the most the database file may grow to (a quota on a shared disk):
    /// beyond it writes fail like on a full disk (<see cref="Core.Storage.StoreUnavailableException"/>). Default 0: no limit.</param>
    public SqliteStore(string connectionString, TimeProvider timeProvider, long maxSizeBytes = 0)
    {
        ArgumentNullException.ThrowIfNull(timeProvider);
        _connections = new SqliteConnectionFactory(connectionString, maxSizeBytes);
        _outage = new WriteOutage(timeProvider);
        _users = new SqliteUserStore(_connections, _writeLock, timeProvider, _outage);
        _usage = new SqliteUsageStore(_connections, _writeLock, timeProvider);
        _userUsage = new SqliteUserUsageStore(_connections, _writeLock);
        _rebalancer = new SqliteRebalancer(_connections, _writeLock);
    }

    /// <summary>Creates or migrates the schema and turns on WAL mode. Safe to call on every start, from several processes.</summary>
    public Task InitializeAsync(CancellationToken cancellationToken) =>
        SqliteErrors.GuardAsync(() => MigrateAsync(cancellationToken));

    private async Task MigrateAsync(CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await using var connection = await _connections.OpenAsync(cancellationToken).ConfigureAwait(false);
            await SqliteSchema.MigrateAsync(connection, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <inheritdoc />
    public Task<RebalanceResult> RebalanceAsync(IReadOnlyList<int> availableGroups, bool dryRun, int batchSize, IProgress<long>? progress, CancellationToken cancellationToken) =>
        SqliteErrors.GuardAsync(() => _rebalancer.RebalanceAsync(availableGroups, dryRun, batchSize, progress, cancellationToken));

    /// <inheritdoc />
    public Task<UserRecord?> FindAsync(string userId, CancellationToken cancellationToken) =>
        SqliteErrors.GuardAsync(() => _users.FindAsync(userId, cancellationToken));

    /// <inheritdoc />
    public Task<UserAssignment> GetOrAssignAsync(string userId, string tier, IReadOnlyList<int> availableGroups, CancellationToken cancellationToken) =>
        SqliteErrors.GuardAsync(async () =>
        {
            var assignment = await _users.GetOrAssignAsync(userId, tier, availableGroups, cancellationToken).ConfigureAwait(false);
            if (assignment.Created)
            {
                _outage.Ended();
            }
            return assignment;
        }, _outage);

    /// <inheritdoc />
    /// <remarks>Blank ids are skipped and take no turn; other ids are stored exactly as given (not trimmed).</remarks>
    public Task<ImportResult> ImportRoundRobinAsync(IAsyncEnumerable<string> userIds, IReadOnlyList<int> groups, string tier, int batchSize, IProgress<long>? progress, CancellationToken cancellationToken) =>
        SqliteErrors.GuardAsync(() => _users.ImportRoundRobinAsync(userIds, groups, tier, batchSize, progress, cancellationToken));

    /// <inheritdoc />
    public Task<UserRecord?> UpdateAsync(string userId, string? tier, int? apiKeyGroup, CancellationToken cancellationToken) =>
        SqliteErrors.GuardAsync(() => _users.UpdateAsync(userId, tier, apiKeyGroup, cancellationToken));

    /// <inheritdoc />
    public Task<IReadOnlyDictionary<int, long>> CountUsersByGroupAsync(CancellationToken cancellationToken) =>
        SqliteErrors.GuardAsync(() => _users.CountUsersByGroupAsync(cancellationToken));

    /// <summary>The number of users, read from the per-group counters rather than by scanning users.</summary>
    public Task<long> CountUsersAsync(CancellationToken cancellationToken) =>
        SqliteErrors.GuardAsync(() => _users.CountUsersAsync(cancellationToken));

    /// <inheritdoc />
    public Task AddAsync(IReadOnlyList<KeyGroupUsage> deltas, CancellationToken cancellationToken) =>
        SqliteErrors.GuardAsync(async () =>
        {
            // Never held back by an outage: the flush is what finds out that the file is writable again.
            await _usage.AddAsync(deltas, cancellationToken).ConfigureAwait(false);
            _outage.Ended();
        }, _outage);

    /// <inheritdoc />
    public Task<IReadOnlyList<KeyGroupUsage>> ReadAllAsync(CancellationToken cancellationToken) =>
        SqliteErrors.GuardAsync(() => _usage.ReadAllAsync(cancellationToken));

    /// <inheritdoc />
    public Task AddAsync(IReadOnlyList<UserDayUsage> deltas, CancellationToken cancellationToken) =>
        SqliteErrors.GuardAsync(() => _userUsage.AddAsync(deltas, cancellationToken));

    /// <inheritdoc />
    public Task<IReadOnlyList<UserDayUsage>> ReadUserAsync(string userId, DateOnly from, DateOnly to, CancellationToken cancellationToken) =>
        SqliteErrors.GuardAsync(() => _userUsage.ReadUserAsync(userId, from, to, cancellationToken));

    /// <inheritdoc />
    public Task<IReadOnlyList<UserDayUsage>> TopAsync(DateOnly day, UserUsageOrder by, int count, CancellationToken cancellationToken) =>
        SqliteErrors.GuardAsync(() => _userUsage.TopAsync(day, by, count, cancellationToken));

    /// <inheritdoc />
    public Task<long> DayCostAsync(DateOnly day, CancellationToken cancellationToken) =>
        SqliteErrors.GuardAsync(() => _userUsage.DayCostAsync(day, cancellationToken));

    /// <inheritdoc />
    /// <remarks>Heaviest (most tokens) first.</remarks>
    public IAsyncEnumerable<UserDayUsage> ExportDayAsync(DateOnly day, CancellationToken cancellationToken) =>
        _userUsage.ExportDayAsync(day, cancellationToken);

    /// <summary>Releases this database's idle pooled connections, so its files can be deleted or moved.</summary>
    public ValueTask DisposeAsync()
    {
        _connections.ClearPool();
        _writeLock.Dispose();
        return ValueTask.CompletedTask;
    }
}
