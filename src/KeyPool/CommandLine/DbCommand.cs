using System.CommandLine;
using KeyPool.Hosting;
using KeyPool.Keys;
using KeyPool.Postgres;
using KeyPool.Sqlite;
using KeyPool.Storage;
using Spectre.Console;

namespace KeyPool.CommandLine;

/// <summary>
/// <c>keypool db migrate [--supabase-trigger]</c>: bring the database's schema up to date (PostgreSQL: the
/// versioned migrations, each in its own transaction; SQLite: its embedded schema).
/// <c>keypool db backfill</c>: give users without a key group one, round-robin, in batches (PostgreSQL).
/// </summary>
internal static class DbCommand
{
    public static Command Create()
    {
        var db = new Command("db", "Manage the database: migrate the schema, backfill key groups.");
        db.Subcommands.Add(CreateMigrate());
        db.Subcommands.Add(CreateBackfill());
        return db;
    }

    private static Command CreateMigrate()
    {
        var trigger = new Option<bool>("--supabase-trigger")
        {
            Description = "PostgreSQL: also install the handle_new_user trigger on user_profiles, so rows inserted without a key group get the least-loaded usable one.",
        };
        var command = new Command("migrate", "Apply missing schema migrations (idempotent; safe while gateways run).") { trigger };
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction(async (result, cancellationToken) =>
        {
            var choice = Choose(result.UnmatchedTokens);
            if (choice is null)
            {
                return 1;
            }
            try
            {
                if (choice.Kind == StoreKind.Sqlite)
                {
                    if (result.GetValue(trigger))
                    {
                        AnsiConsole.MarkupLine("[red]--supabase-trigger needs the PostgreSQL store[/] (ConnectionStrings:KeyPool=Host=…).");
                        return 1;
                    }
                    await using var sqlite = new SqliteStore(choice.ConnectionString, TimeProvider.System);
                    await sqlite.InitializeAsync(cancellationToken);
                    AnsiConsole.MarkupLineInterpolated($"{choice.Describe()}: schema is current.");
                    return 0;
                }
                await using var store = new PostgresStore(choice.ConnectionString, TimeProvider.System, migrate: true);
                var applied = await store.MigrateAsync(result.GetValue(trigger), cancellationToken);
                foreach (var name in applied)
                {
                    AnsiConsole.MarkupLineInterpolated($"applied {name}");
                }
                AnsiConsole.MarkupLineInterpolated($"{choice.Describe()}: schema version {PostgresStore.SchemaVersion} ({applied.Count} migration(s) applied now).");
                if (result.GetValue(trigger))
                {
                    AnsiConsole.MarkupLine("Trigger handle_new_user on user_profiles installed: rows inserted without a key group get get_next_api_key_group().");
                }
                return 0;
            }
            catch (Exception exception) when (exception is Core.Storage.StoreUnavailableException or Core.Storage.StoreSchemaException)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]Migration failed:[/] {exception.Message}");
                return 1;
            }
        });
        return command;
    }

    private static Command CreateBackfill()
    {
        var batch = new Option<int>("--batch-size") { Description = "Users per committed batch.", DefaultValueFactory = _ => 10_000 };
        var command = new Command("backfill", "Give every user without a key group one, round-robin over the detected groups, in batches (the app keeps serving).") { batch };
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction(async (result, cancellationToken) =>
        {
            var choice = Choose(result.UnmatchedTokens);
            if (choice is null)
            {
                return 1;
            }
            if (choice.Kind != StoreKind.Postgres)
            {
                AnsiConsole.MarkupLine("[red]backfill needs the PostgreSQL store:[/] SQLite users always have a group.");
                return 1;
            }
            if (result.GetValue(batch) < 1)
            {
                AnsiConsole.MarkupLine("[red]--batch-size must be at least 1.[/]");
                return 1;
            }
            var configuration = CliConfiguration.Build(result.UnmatchedTokens);
            var keys = KeySet.Load(configuration);
            if (keys.Problems.Count > 0 || keys.Ring.Count == 0)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]No usable keys:[/] {string.Join(" ", keys.Problems.DefaultIfEmpty("set XAI_API_KEY, XAI_API_KEY_2, … first."))}");
                return 1;
            }
            try
            {
                await using var store = new PostgresStore(choice.ConnectionString, TimeProvider.System, choice.Migrate);
                await store.InitializeAsync(cancellationToken);
                var assigned = 0L;
                await AnsiConsole.Status().StartAsync("Assigning key groups…", async status =>
                {
                    assigned = await store.BackfillAsync(keys.Ring.Groups, result.GetValue(batch),
                        new Progress<long>(n => status.Status($"Assigning key groups… {n:N0}")), cancellationToken);
                });
                AnsiConsole.MarkupLineInterpolated($"Assigned key groups to {assigned:N0} users over {keys.Ring.Count} groups.");
                return 0;
            }
            catch (Exception exception) when (exception is Core.Storage.StoreUnavailableException or Core.Storage.StoreSchemaException)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]Backfill failed:[/] {exception.Message}");
                return 1;
            }
        });
        return command;
    }

    /// <summary>Opens the configured store for a command, or prints why it cannot and returns null.</summary>
    public static async Task<OpenedStore?> OpenStoreAsync(IConfiguration configuration, CancellationToken cancellationToken)
    {
        try
        {
            return await StoreChoice.From(configuration).OpenAsync(TimeProvider.System, cancellationToken);
        }
        catch (Exception exception) when (exception is StartupException or Core.Storage.StoreUnavailableException or Core.Storage.StoreSchemaException)
        {
            AnsiConsole.MarkupLineInterpolated($"[red]{exception.Message}[/]");
            return null;
        }
    }

    private static StoreChoice? Choose(IReadOnlyList<string> arguments)
    {
        try
        {
            return StoreChoice.From(CliConfiguration.Build(arguments));
        }
        catch (StartupException exception)
        {
            AnsiConsole.MarkupLineInterpolated($"[red]{exception.Message}[/]");
            return null;
        }
    }
}
