using Microsoft.Data.Sqlite;

namespace KeyPool.Sqlite.Connections;

/// <summary>
/// Opens a pooled connection per operation with the per-connection settings every
/// KeyPool connection needs; the persistent ones (WAL) are set once by the schema.
/// </summary>
internal sealed class SqliteConnectionFactory
{
    // busy_timeout: 10 s rides out another process's import batch yet still surfaces a stuck writer.
    // synchronous NORMAL (usage, reads, bulk jobs): in WAL mode a commit survives a crash of the process (kill -9) —
    // it is in the OS's cache — and only the last commits can be lost on power failure or an OS crash, never
    // consistency; it saves an fsync per commit. FULL (see OpenDurableAsync) syncs the WAL at each commit.
    private const string ConnectionPragmas =
        "PRAGMA busy_timeout = 10000; PRAGMA synchronous = NORMAL;";

    private const string DurablePragmas =
        "PRAGMA busy_timeout = 10000; PRAGMA synchronous = FULL;";

    public SqliteConnectionFactory(string connectionStringOrPath)
    {
        ConnectionString = Normalize(connectionStringOrPath);
    }

    public string ConnectionString { get; }

    public Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken) => OpenAsync(ConnectionPragmas, cancellationToken);

    /// <summary>
    /// A connection whose commits are on disk when they return (synchronous FULL: the WAL is synced at each commit),
    /// for what someone was told was done: a sign-up's group, a gateway key shown once. They must survive a power
    /// loss; usage, written every second, stays cheap. The pragma is set on every open, so pooled connections never
    /// carry it over.
    /// </summary>
    public Task<SqliteConnection> OpenDurableAsync(CancellationToken cancellationToken) => OpenAsync(DurablePragmas, cancellationToken);

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
