using Microsoft.Data.Sqlite;

namespace KeyPool.Sqlite.Connections;

/// <summary>
/// Opens a pooled connection per operation with the per-connection settings every
/// KeyPool connection needs; the persistent ones (WAL) are set once by the schema.
/// </summary>
internal sealed class SqliteConnectionFactory
{
    // busy_timeout: 10 s rides out another process's import batch yet still surfaces a stuck writer.
    // synchronous NORMAL: in WAL mode only the last commits can be lost on power failure, never
    // consistency, and it saves an fsync per commit.
    private const string ConnectionPragmas =
        "PRAGMA busy_timeout = 10000; PRAGMA synchronous = NORMAL;";

    public SqliteConnectionFactory(string connectionStringOrPath)
    {
        ConnectionString = Normalize(connectionStringOrPath);
    }

    public string ConnectionString { get; }

    public async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(ConnectionString);
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            using var command = connection.CreateCommand();
            command.CommandText = ConnectionPragmas;
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
