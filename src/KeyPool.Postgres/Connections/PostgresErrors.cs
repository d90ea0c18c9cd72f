using System.Net.Sockets;
using KeyPool.Core.Storage;
using Npgsql;

namespace KeyPool.Postgres.Connections;

/// <summary>
/// Which driver errors mean "the database cannot be used right now" (and become
/// <see cref="StoreUnavailableException"/>) rather than a bug that should surface as it is.
/// </summary>
internal static class PostgresErrors
{
    public const string Message = "The PostgreSQL database cannot be reached right now";

    public static bool IsUnavailable(Exception exception) => exception switch
    {
        PostgresException postgres => IsUnavailableState(postgres.SqlState),
        NpgsqlException npgsql => npgsql.IsTransient || npgsql.InnerException is SocketException or IOException or TimeoutException,
        SocketException or TimeoutException => true,
        _ => false,
    };

    /// <summary>
    /// 08: connection exceptions; 53: insufficient resources (disk full, out of memory, too many connections);
    /// 57P01-57P05: shutting down, crash recovery, not yet accepting connections, idle timeouts;
    /// 55P03: a lock not obtained in time; 57014: a statement timeout.
    /// </summary>
    public static bool IsUnavailableState(string sqlState) =>
        sqlState.StartsWith("08", StringComparison.Ordinal)
        || sqlState.StartsWith("53", StringComparison.Ordinal)
        || sqlState.StartsWith("57P", StringComparison.Ordinal)
        || sqlState is "55P03" or "57014";

    public static StoreUnavailableException Wrap(Exception exception) =>
        new($"{Message} ({Describe(exception)}); it is retried on the next call.", exception);

    // The driver's message, never the connection string (it may hold a password).
    private static string Describe(Exception exception) => exception switch
    {
        PostgresException postgres => $"{postgres.SqlState}: {postgres.MessageText}",
        _ when exception.InnerException is SocketException socket => socket.SocketErrorCode.ToString(),
        _ => exception.GetType().Name,
    };
}
