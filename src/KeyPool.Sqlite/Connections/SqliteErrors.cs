using KeyPool.Core.Storage;
using Microsoft.Data.Sqlite;

namespace KeyPool.Sqlite.Connections;

/// <summary>
/// The adapter boundary: SQLite errors that mean the file cannot be used right now (busy or locked past
/// the busy timeout, disk full, I/O error, cannot open) become <see cref="StoreUnavailableException"/>;
/// anything else (a missing table, a constraint) surfaces as it is.
/// </summary>
internal static class SqliteErrors
{
    private const int Busy = 5, Locked = 6, IoError = 10, Full = 13, CannotOpen = 14;

    public static bool IsUnavailable(SqliteException exception) =>
        exception.SqliteErrorCode is Busy or Locked or IoError or Full or CannotOpen;

    public static async Task<T> GuardAsync<T>(Func<Task<T>> operation, WriteOutage? outage = null)
    {
        try
        {
            return await operation().ConfigureAwait(false);
        }
        catch (SqliteException exception) when (IsUnavailable(exception))
        {
            outage?.Began();
            throw Wrap(exception);
        }
    }

    public static async Task GuardAsync(Func<Task> operation, WriteOutage? outage = null)
    {
        try
        {
            await operation().ConfigureAwait(false);
        }
        catch (SqliteException exception) when (IsUnavailable(exception))
        {
            outage?.Began();
            throw Wrap(exception);
        }
    }

    private static StoreUnavailableException Wrap(SqliteException exception) =>
        new($"The SQLite database cannot be used right now ({exception.SqliteErrorCode}: {exception.Message}); it is retried on the next call.", exception);
}
