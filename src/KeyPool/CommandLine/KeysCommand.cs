using System.CommandLine;
using KeyPool.Configuration;
using KeyPool.Core.Budgets;
using KeyPool.Core.Health;
using KeyPool.Core.KeyHealth;
using KeyPool.Core.Routing;
using KeyPool.Keys;
using KeyPool.Proxy;
using Microsoft.Extensions.Options;
using Spectre.Console;

namespace KeyPool.CommandLine;

/// <summary><c>keypool keys [--check]</c>: the detected key groups, masked, with their teams.</summary>
internal static class KeysCommand
{
    public static Command Create()
    {
        var check = new Option<bool>("--check") { Description = "Ask the upstream (GET /v1/api-key) for each key's team and state." };
        var command = new Command("keys", "List the detected key groups with masked keys and teams.") { check };
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction(async (result, cancellationToken) =>
        {
            var configuration = CliConfiguration.Build(result.UnmatchedTokens);
            var keys = KeySet.Load(configuration);
            foreach (var problem in keys.Problems)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {problem}");
            }
            var teams = new Dictionary<int, string>();
            var problems = new Dictionary<int, string>();
            if (result.GetValue(check) && keys.Ring.Count > 0)
            {
                var upstream = Options.Create(configuration.GetSection(UpstreamOptions.Section).Get<UpstreamOptions>() ?? new UpstreamOptions());
                using var client = new UpstreamClient(upstream);
                var checker = new UpstreamKeyCheck(client, TimeProvider.System);
                var timeout = (configuration.GetSection(KeysOptions.Section).Get<KeysOptions>() ?? new KeysOptions()).CheckTimeout;
                foreach (var key in keys.Ring.Keys)
                {
                    var answer = await checker.CheckAsync(key, timeout, cancellationToken);
                    if (answer?.Team is { } team)
                    {
                        teams[key.Group] = team;
                    }
                    if (answer?.Problem is { } problem)
                    {
                        problems[key.Group] = problem;
                    }
                }
            }
            var pool = PoolSnapshot.Build(keys.Ring, keys.Groups, teams, configuration.GetSection(BudgetOptions.Section).Get<BudgetOptions>() ?? new BudgetOptions(),
                new KeyHealthOptions(), TimeProvider.System);

            AnsiConsole.MarkupLineInterpolated($"API Key Pool: Detected [bold]{keys.Ring.Count}[/] available keys");
            var prefix = CliConfiguration.KeyPrefix(configuration);
            var table = new Table().AddColumn("Group").AddColumn("Variable").AddColumn("Key").AddColumn("Team").AddColumn("RPM").AddColumn("TPM").AddColumn("State");
            foreach (var member in pool.Members)
            {
                table.AddRow(
                    member.Group.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    member.Group == 1 ? prefix : $"{prefix}_{member.Group}",
                    Markup.Escape(member.Key.Masked),
                    Markup.Escape(member.Team),
                    member.Limits.RequestsPerMinute.ToString("N0", System.Globalization.CultureInfo.InvariantCulture),
                    member.Limits.TokensPerMinute.ToString("N0", System.Globalization.CultureInfo.InvariantCulture),
                    problems.TryGetValue(member.Group, out var problem) ? $"[red]{Markup.Escape(problem)}[/]" : "ok");
            }
            AnsiConsole.Write(table);
            foreach (var sentence in PoolReport.SharedTeams(pool))
            {
                AnsiConsole.MarkupLineInterpolated($"[yellow]note:[/] {sentence}");
            }
            foreach (var warning in keys.Warnings)
            {
                AnsiConsole.MarkupLineInterpolated($"[yellow]warning:[/] {warning}");
            }
            return keys.Ring.Count == 0 || keys.Problems.Count > 0 ? 1 : 0;
        });
        return command;
    }
}
