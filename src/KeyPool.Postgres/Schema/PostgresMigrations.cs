using System.Globalization;
using System.Reflection;
using KeyPool.Core.Storage;
using Npgsql;

namespace KeyPool.Postgres.Schema;

/// <summary>One embedded migration: <c>NNNN_name.sql</c> takes the schema to version NNNN.</summary>
internal sealed record Migration(int Version, string Name, string Sql);

/// <summary>
/// Applies the embedded, versioned SQL migrations. Each runs in its own transaction together with its
/// row in <c>keypool_schema_versions</c>, under a transaction-scoped advisory lock, so instances
/// migrating at once apply each migration exactly once and a failed one leaves nothing behind.
/// </summary>
internal static class PostgresMigrations
{
    // Any fixed 64-bit number; it names KeyPool's migration lock among the database's advisory locks.
    private const long MigrationLock = 0x4B6579506F6F6C; // "KeyPool"

    private const string VersionTable =
        """
        CREATE TABLE IF NOT EXISTS keypool_schema_versions (
            version    integer     PRIMARY KEY,
            name       text        NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
        );
        """;

    public static IReadOnlyList<Migration> All { get; } = Load();

    public static int CurrentVersion => All[^1].Version;

    /// <summary>Applies what is missing; returns the migrations applied by this call.</summary>
    public static async Task<IReadOnlyList<Migration>> MigrateAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (var setupTransaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false))
        {
            // CREATE TABLE IF NOT EXISTS can still collide when two sessions create the table at once: serialise it.
            // A transaction-scoped lock, so a failed or cancelled setup can never leave the lock held on a pooled connection.
            await using var setup = new NpgsqlCommand($"SELECT pg_advisory_xact_lock({MigrationLock}); {VersionTable}", connection, setupTransaction) { CommandTimeout = 0 };
            await setup.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            await setupTransaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        }
        var applied = new List<Migration>();
        foreach (var migration in All)
        {
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await using (var lockCommand = new NpgsqlCommand($"SELECT pg_advisory_xact_lock({MigrationLock});", connection, transaction) { CommandTimeout = 0 })
            {
                await lockCommand.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
            var newest = await NewestAsync(connection, transaction, cancellationToken).ConfigureAwait(false);
            if (newest > CurrentVersion)
            {
                throw new StoreSchemaException(TooNew(newest));
            }
            if (await IsAppliedAsync(connection, transaction, migration.Version, cancellationToken).ConfigureAwait(false))
            {
                await transaction.RollbackAsync(cancellationToken).ConfigureAwait(false);
                continue;
            }
            await using (var command = new NpgsqlCommand(migration.Sql, connection, transaction) { CommandTimeout = 0 })
            {
                // No time limit: a migration may rewrite or recount millions of existing rows.
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
            await using (var record = new NpgsqlCommand("INSERT INTO keypool_schema_versions (version, name) VALUES ($1, $2);", connection, transaction))
            {
                record.Parameters.Add(new NpgsqlParameter<int> { TypedValue = migration.Version });
                record.Parameters.Add(new NpgsqlParameter<string> { TypedValue = migration.Name });
                await record.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            applied.Add(migration);
        }
        // New tables and functions: cached statement plans and type info of pooled connections are stale.
        await connection.ReloadTypesAsync(cancellationToken).ConfigureAwait(false);
        return applied;
    }

    /// <summary>The newest applied version; 0 when KeyPool never migrated this database.</summary>
    public static async Task<int> VersionAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        // Two statements: a query naming a missing table would fail when parsed, whatever its CASE says.
        await using (var exists = new NpgsqlCommand("SELECT to_regclass('keypool_schema_versions') IS NOT NULL;", connection))
        {
            if (!(bool)(await exists.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!)
            {
                return 0;
            }
        }
        await using var command = new NpgsqlCommand("SELECT COALESCE(max(version), 0) FROM keypool_schema_versions;", connection);
        return Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), CultureInfo.InvariantCulture);
    }

    /// <summary>Throws a <see cref="StoreSchemaException"/> that says what to run unless the schema is current.</summary>
    public static async Task RequireCurrentAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var version = await VersionAsync(connection, cancellationToken).ConfigureAwait(false);
        if (version > CurrentVersion)
        {
            throw new StoreSchemaException(TooNew(version));
        }
        if (version < CurrentVersion)
        {
            throw new StoreSchemaException(string.Create(CultureInfo.InvariantCulture,
                $"The PostgreSQL schema is at version {version}, this KeyPool needs {CurrentVersion}: run `keypool db migrate` (or start with `keypool serve --migrate`)."));
        }
    }

    /// <summary>Installs (or replaces) the optional Supabase sign-up trigger, in one transaction.</summary>
    public static async Task InstallSupabaseTriggerAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await RequireCurrentAsync(connection, cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using (var command = new NpgsqlCommand(ReadResource("KeyPool.Postgres.supabase_trigger.sql"), connection, transaction))
        {
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    private static string TooNew(int version) => string.Create(CultureInfo.InvariantCulture,
        $"The PostgreSQL schema is at version {version}, newer than the {CurrentVersion} this KeyPool knows: upgrade KeyPool.");

    private static async Task<int> NewestAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT COALESCE(max(version), 0) FROM keypool_schema_versions;", connection, transaction);
        return Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), CultureInfo.InvariantCulture);
    }

    private static async Task<bool> IsAppliedAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, int version, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT EXISTS (SELECT 1 FROM keypool_schema_versions WHERE version = $1);", connection, transaction);
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = version });
        return (bool)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    private static List<Migration> Load()
    {
        const string prefix = "KeyPool.Postgres.Migrations.";
        var migrations = typeof(PostgresMigrations).Assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(prefix, StringComparison.Ordinal) && n.EndsWith(".sql", StringComparison.Ordinal))
            .Select(n =>
            {
                var name = n[prefix.Length..^4];
                var version = int.Parse(name[..name.IndexOf('_', StringComparison.Ordinal)], CultureInfo.InvariantCulture);
                return new Migration(version, name, ReadResource(n));
            })
            .OrderBy(m => m.Version)
            .ToList();
        for (var i = 0; i < migrations.Count; i++)
        {
            if (migrations[i].Version != i + 1)
            {
                throw new InvalidOperationException($"Migrations must be numbered 1, 2, … without gaps; found {migrations[i].Name}.");
            }
        }
        return migrations;
    }

    private static string ReadResource(string name)
    {
        using var stream = typeof(PostgresMigrations).Assembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"The embedded resource {name} is missing.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
