using System.Globalization;
using Microsoft.Data.Sqlite;

namespace KeyPool.Sqlite.Schema;

/// <summary>
/// Creates and migrates the schema. Table and column names are the original Supabase
/// system's, so the PostgreSQL adapter can share them. The version lives in PRAGMA user_version.
/// </summary>
internal static class SqliteSchema
{
    // Migrations[v] takes the database from version v to v + 1. Append only; never edit a shipped one.
    private static readonly string[] Migrations =
    [
        """
        CREATE TABLE IF NOT EXISTS user_profiles (
            id            TEXT    PRIMARY KEY,
            api_key_group INTEGER NOT NULL,
            tier          TEXT    NOT NULL,
            created_at    TEXT    NOT NULL
        ) WITHOUT ROWID;

        CREATE TABLE IF NOT EXISTS api_key_group_users (
            key_group  INTEGER PRIMARY KEY,
            user_count INTEGER NOT NULL
        );

        CREATE TABLE IF NOT EXISTS api_key_stats (
            key_group         INTEGER PRIMARY KEY,
            total_requests    INTEGER NOT NULL DEFAULT 0,
            prompt_tokens     INTEGER NOT NULL DEFAULT 0,
            completion_tokens INTEGER NOT NULL DEFAULT 0,
            reasoning_tokens  INTEGER NOT NULL DEFAULT 0,
            cached_tokens     INTEGER NOT NULL DEFAULT 0,
            total_tokens      INTEGER NOT NULL DEFAULT 0,
            errors_4xx        INTEGER NOT NULL DEFAULT 0,
            errors_429        INTEGER NOT NULL DEFAULT 0,
            errors_5xx        INTEGER NOT NULL DEFAULT 0,
            last_request_at   TEXT    NULL,
            updated_at        TEXT    NOT NULL
        );
        """,
        // Issue 13: usage per user per UTC day ('YYYY-MM-DD'). The (day, …) indexes answer the top users and
        // the export of a day without a scan of every day's rows.
        """
        CREATE TABLE IF NOT EXISTS user_usage_daily (
            user_id           TEXT    NOT NULL,
            day               TEXT    NOT NULL,
            requests          INTEGER NOT NULL DEFAULT 0,
            prompt_tokens     INTEGER NOT NULL DEFAULT 0,
            completion_tokens INTEGER NOT NULL DEFAULT 0,
            reasoning_tokens  INTEGER NOT NULL DEFAULT 0,
            cached_tokens     INTEGER NOT NULL DEFAULT 0,
            total_tokens      INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (user_id, day)
        ) WITHOUT ROWID;

        CREATE INDEX IF NOT EXISTS user_usage_daily_by_tokens ON user_usage_daily (day, total_tokens DESC);
        CREATE INDEX IF NOT EXISTS user_usage_daily_by_requests ON user_usage_daily (day, requests DESC);
        """,
        // Money: cost_in_usd_ticks summed as integers (1 USD = 10^10 ticks), the part estimated from the price
        // table, and (per key group) what cached tokens saved.
        """
        ALTER TABLE api_key_stats ADD COLUMN cost_ticks INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE api_key_stats ADD COLUMN estimated_cost_ticks INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE api_key_stats ADD COLUMN saved_ticks INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE user_usage_daily ADD COLUMN cost_ticks INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE user_usage_daily ADD COLUMN estimated_cost_ticks INTEGER NOT NULL DEFAULT 0;
        CREATE INDEX IF NOT EXISTS user_usage_daily_by_cost ON user_usage_daily (day, cost_ticks DESC);
        """,
    ];

    public static int CurrentVersion => Migrations.Length;

    public static async Task MigrateAsync(SqliteConnection connection, CancellationToken cancellationToken)
    {
        // journal_mode cannot change inside a transaction; it is stored in the file, so once is enough.
        // An in-memory database answers "memory" and stays that way, which is fine.
        Execute(connection, null, "PRAGMA journal_mode = WAL;");

        // IMMEDIATE so two processes starting together do not both run a migration.
        using var transaction = connection.BeginTransaction(deferred: false);
        var version = Convert.ToInt32(Scalar(connection, transaction, "PRAGMA user_version;"), CultureInfo.InvariantCulture);
        if (version > CurrentVersion)
        {
            throw new InvalidOperationException(
                $"The database schema is version {version}, newer than the {CurrentVersion} this KeyPool supports; upgrade KeyPool.");
        }
        for (var v = version; v < CurrentVersion; v++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Execute(connection, transaction, Migrations[v]);
        }
        if (version != CurrentVersion)
        {
            // PRAGMA takes no parameters; the value is our own constant.
            Execute(connection, transaction, string.Create(CultureInfo.InvariantCulture, $"PRAGMA user_version = {CurrentVersion};"));
        }
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    private static void Execute(SqliteConnection connection, SqliteTransaction? transaction, string sql)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static object? Scalar(SqliteConnection connection, SqliteTransaction transaction, string sql)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        return command.ExecuteScalar();
    }
}
