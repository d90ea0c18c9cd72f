using System.CommandLine;
using KeyPool.Keys;
using Spectre.Console;

namespace KeyPool.CommandLine;

/// <summary>
/// <c>keypool users import FILE</c>: give existing users key groups round-robin, in file order (PostgreSQL: binary COPY);
/// <c>keypool users export --day D</c>: <see cref="UsageExportCommand"/>.
/// </summary>
internal static class UsersCommand
{
    public static Command Create()
    {
        var file = new Argument<FileInfo>("file") { Description = "One user id per line, or a CSV file with an 'id' column." };
        var tier = new Option<string>("--tier") { Description = "Tier of the imported users.", DefaultValueFactory = _ => "free" };
        var batch = new Option<int>("--batch-size") { Description = "Users per committed batch.", DefaultValueFactory = _ => 500_000 };
        var import = new Command("import", "Assign key groups round-robin (1, 2, …, n, 1, …) to the users of a file; safe to re-run.") { file, tier, batch };
        import.TreatUnmatchedTokensAsErrors = false;
        import.SetAction(async (result, cancellationToken) =>
        {
            var path = result.GetValue(file)!;
            if (!path.Exists)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]No such file:[/] {path.FullName}");
                return 1;
            }
            var batchSize = result.GetValue(batch);
            if (batchSize < 1)
            {
                AnsiConsole.MarkupLine("[red]--batch-size must be at least 1.[/]");
                return 1;
            }
            var configuration = CliConfiguration.Build(result.UnmatchedTokens);
            var ring = KeySet.Discover(configuration, CliConfiguration.KeyPrefix(configuration)).Keys;
            if (ring.Count == 0)
            {
                AnsiConsole.MarkupLine("[red]No upstream API keys found:[/] the import assigns users to the detected key groups, so set XAI_API_KEY, XAI_API_KEY_2, … first.");
                return 1;
            }

            await using var store = await DbCommand.OpenStoreAsync(configuration, cancellationToken);
            if (store is null)
            {
                return 1;
            }
            var reader = new UserIdFileReader(path.FullName);
            Core.Users.ImportResult? outcome = null;
            await AnsiConsole.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
                .StartAsync(async progress =>
                {
                    var task = progress.AddTask($"Importing {path.Name}", maxValue: Math.Max(1, path.Length));
                    var report = new Progress<long>(_ => task.Value = reader.BytesRead);
                    outcome = await store.Users.ImportRoundRobinAsync(reader.ReadIdsAsync(cancellationToken), ring.Groups, result.GetValue(tier)!, batchSize, report, cancellationToken);
                    task.Value = task.MaxValue;
                });
            AnsiConsole.MarkupLineInterpolated($"Read {outcome!.Read:N0} ids: {outcome.Assigned:N0} assigned over {ring.Count} key groups, {outcome.Skipped:N0} already had a group.");
            if (reader.Rejected > 0)
            {
                await Console.Error.WriteLineAsync($"Skipped {reader.Rejected:N0} ids that are not valid user ids (no '/', '\\', '%', control characters, \".\" or \"..\"; see docs/security.md), on lines {string.Join(", ", reader.RejectedLines)}{(reader.Rejected > reader.RejectedLines.Count ? ", …" : "")}.");
            }
            return 0;
        });
        var users = new Command("users", "Manage end users.");
        users.Subcommands.Add(import);
        users.Subcommands.Add(UsageExportCommand.Create());
        return users;
    }
}
