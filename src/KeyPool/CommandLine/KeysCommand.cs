using System.CommandLine;
using KeyPool.Keys;
using Spectre.Console;

namespace KeyPool.CommandLine;

/// <summary><c>keypool keys</c>: the detected key groups, masked.</summary>
internal static class KeysCommand
{
    public static Command Create()
    {
        var command = new Command("keys", "List the detected key groups with masked keys.") { TreatUnmatchedTokensAsErrors = false };
        command.SetAction(result =>
        {
            var configuration = CliConfiguration.Build(result.UnmatchedTokens);
            var prefix = CliConfiguration.KeyPrefix(configuration);
            var discovery = KeyRingProvider.Discover(configuration, prefix);
            AnsiConsole.MarkupLineInterpolated($"API Key Pool: Detected [bold]{discovery.Keys.Count}[/] available keys");
            var table = new Table().AddColumn("Group").AddColumn("Variable").AddColumn("Key");
            foreach (var key in discovery.Keys.Keys)
            {
                table.AddRow(key.Group.ToString(System.Globalization.CultureInfo.InvariantCulture), key.Group == 1 ? prefix : $"{prefix}_{key.Group}", Markup.Escape(key.Masked));
            }
            AnsiConsole.Write(table);
            foreach (var warning in discovery.Warnings)
            {
                AnsiConsole.MarkupLineInterpolated($"[yellow]warning:[/] {warning}");
            }
            return discovery.Keys.Count == 0 ? 1 : 0;
        });
        return command;
    }
}
