using System.CommandLine;
using KeyPool.Keys;
using Spectre.Console;

namespace KeyPool.CommandLine;

/// <summary><c>keypool rebalance [--dry-run]</c>: move the fewest users so the available groups differ by at most one.</summary>
internal static class RebalanceCommand
{
    public static Command Create()
    {
        var dryRun = new Option<bool>("--dry-run") { Description = "Print the plan; move nobody." };
        var batch = new Option<int>("--batch-size") { Description = "Users scanned per committed batch.", DefaultValueFactory = _ => 50_000 };
        var command = new Command("rebalance", "Even out users over the key groups that have a key, moving users of removed groups first.") { dryRun, batch };
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction(async (result, cancellationToken) =>
        {
            var configuration = CliConfiguration.Build(result.UnmatchedTokens);
            var keys = KeySet.Load(configuration);
            if (keys.Problems.Count > 0 || keys.Ring.Count == 0)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]No usable keys:[/] {string.Join(" ", keys.Problems.DefaultIfEmpty("set XAI_API_KEY, XAI_API_KEY_2, … first."))}");
                return 1;
            }
            await using var store = await DbCommand.OpenStoreAsync(configuration, cancellationToken);
            if (store is null)
            {
                return 1;
            }
            var plan = (await store.Rebalancer.RebalanceAsync(keys.Ring.Groups, dryRun: true, 1, null, cancellationToken)).Plan;
            PrintPlan(plan);
            if (result.GetValue(dryRun) || plan.Moves == 0)
            {
                return 0;
            }
            Core.Users.RebalanceResult? done = null;
            await AnsiConsole.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                .StartAsync(async progress =>
                {
                    var task = progress.AddTask("Moving users", maxValue: plan.Moves);
                    done = await store.Rebalancer.RebalanceAsync(keys.Ring.Groups, dryRun: false, result.GetValue(batch), new Progress<long>(moved => task.Value = moved), cancellationToken);
                    task.Value = task.MaxValue;
                });
            AnsiConsole.MarkupLineInterpolated($"Moved {done!.Moved:N0} users.");
            return 0;
        });
        return command;
    }

    private static void PrintPlan(Core.Users.RebalancePlan plan)
    {
        var table = new Table().AddColumn("Group").AddColumn("Moves out").AddColumn("Moves in").AddColumn("Users after");
        foreach (var group in plan.Give.Keys.Union(plan.Take.Keys).Order())
        {
            table.AddRow(
                group.ToString(System.Globalization.CultureInfo.InvariantCulture),
                plan.Give.GetValueOrDefault(group).ToString("N0", System.Globalization.CultureInfo.InvariantCulture),
                plan.Take.GetValueOrDefault(group).ToString("N0", System.Globalization.CultureInfo.InvariantCulture),
                plan.Targets.TryGetValue(group, out var target) ? target.ToString("N0", System.Globalization.CultureInfo.InvariantCulture) : "0 (no key)");
        }
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLineInterpolated($"Plan: {plan.Moves:N0} users to move.");
    }
}
