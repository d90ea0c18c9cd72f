using Microsoft.Data.Sqlite;

namespace KeyPool.Sqlite.Connections;

/// <summary>
/// Opens a pooled connection per operation with the per-connection settings every
/// KeyPool connection needs; the persistent ones (WAL) are set once by the schema.
/// </summary>
internal sealed class SqliteConnectionFactory
{
    // busy_timeout: 10 s rides out another process's import batch yet still surfaces a stuck writer;
    // a shorter "Default Timeout" in the connection string shortens it too (Microsoft.Data.Sqlite retries
    // a busy command until that timeout on its own, so both bound how long a caller waits for a lock).
    // synchronous NORMAL (usage, reads, bulk jobs): in WAL mode a commit survives a crash of the process (kill -9) —
    // it is in the OS's cache — and only the last commits can be lost on power failure or an OS crash, never
    // consistency; it saves an fsync per commit. FULL (see OpenDurableAsync) syncs the WAL at each commit.
    private const int MaxBusyTimeoutMilliseconds = 10_000;

    // SQLite's default page size, which KeyPool never changes.
    private const long PageBytes = 4096;

    private readonly string _connectionPragmas;
    private readonly string _durablePragmas;

    /// <param name="connectionStringOrPath">A connection string or a file path.</param>
    /// <param name="maxSizeBytes">When positive, the database may not grow past this size (SQLite's max_page_count):
    /// writes that would grow it fail as a full disk does, and the store reports itself unavailable.</param>
    public SqliteConnectionFactory(string connectionStringOrPath, long maxSizeBytes = 0)
    {
        ConnectionString = Normalize(connectionStringOrPath);
        BusyTimeout = TimeSpan.FromMilliseconds(Math.Min(MaxBusyTimeoutMilliseconds, new SqliteConnectionStringBuilder(ConnectionString).DefaultTimeout * 1000L));
        var sizeLimit = maxSizeBytes > 0 ? $" PRAGMA max_page_count = {Math.Max(1, maxSizeBytes / PageBytes)};" : "";
        _connectionPragmas = $"PRAGMA busy_timeout = {(long)BusyTimeout.TotalMilliseconds}; PRAGMA synchronous = NORMAL;{sizeLimit}";
        _durablePragmas = $"PRAGMA busy_timeout = {(long)BusyTimeout.TotalMilliseconds}; PRAGMA synchronous = FULL;{sizeLimit}";
    }

    /// <summary>How long one statement waits for another connection's write lock before SQLITE_BUSY.</summary>
    public TimeSpan BusyTimeout { get; }

    public string ConnectionString { get; }

    public Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken) => OpenAsync(_connectionPragmas, cancellationToken);

    /// <summary>
    /// A connection whose commits are on disk when they return (synchronous FULL: the WAL is synced at each commit),
    /// for what someone was told was done: a sign-up's group, a gateway key shown once. They must survive a power
    /// loss; usage, written every second, stays cheap. The pragma is set on every open, so pooled connections never
    /// carry it over.
    /// </summary>
    public Task<SqliteConnection> OpenDurableAsync(CancellationToken cancellationToken) => OpenAsync(_durablePragmas, cancellationToken);

    private async Task<SqliteConnection> OpenAsync(string pragmas, CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(ConnectionString);
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            using var command = connection.CreateCommand();
            command.CommandText = pragmas;
            command.ExecuteNonQuery();
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Drops this database's idle pooled connections so its files can be moved or deleted.</summary>
    public void ClearPool()
    {
        using var connection = new SqliteConnection(ConnectionString);
        SqliteConnection.ClearPool(connection);
    }

    // A value without '=' cannot be a connection string, so it is taken as a file path.
    internal static string Normalize(string connectionStringOrPath)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionStringOrPath);
        var builder = connectionStringOrPath.Contains('=', StringComparison.Ordinal)
            ? new SqliteConnectionStringBuilder(connectionStringOrPath)
            : new SqliteConnectionStringBuilder { DataSource = connectionStringOrPath };
        return builder.ToString();
    }
}
