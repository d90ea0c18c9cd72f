using System.CommandLine;
using KeyPool.Emulator;
using KeyPool.Keys;
using Spectre.Console;

namespace KeyPool.CommandLine;

/// <summary><c>keypool emulator --keys k1,k2 --urls http://127.0.0.1:5001</c>: the upstream emulator on its own.</summary>
internal static class EmulatorCommand
{
    public static Command Create()
    {
        var keys = new Option<string?>("--keys") { Description = "Comma-separated keys to accept (default: the keys detected in the environment)." };
        var urls = new Option<string>("--urls") { Description = "Where to listen.", DefaultValueFactory = _ => "http://127.0.0.1:5001" };
        var rpm = new Option<int>("--rpm") { Description = "Requests per minute per team and model.", DefaultValueFactory = _ => 480 };
        var tpm = new Option<long>("--tpm") { Description = "Tokens per minute per team and model.", DefaultValueFactory = _ => 2_000_000 };
        var latency = new Option<int>("--latency-ms") { Description = "Delay before each answer, in milliseconds." };
        var chunks = new Option<int>("--stream-chunks") { Description = "Content chunks per streamed answer.", DefaultValueFactory = _ => 8 };
        var command = new Command("emulator", "Run the xAI-compatible upstream emulator.") { keys, urls, rpm, tpm, latency, chunks };
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction(async (result, cancellationToken) =>
        {
            var options = new EmulatorOptions
            {
                RequestsPerMinute = result.GetValue(rpm),
                TokensPerMinute = result.GetValue(tpm),
                Latency = TimeSpan.FromMilliseconds(result.GetValue(latency)),
                StreamChunks = result.GetValue(chunks),
            };
            var given = result.GetValue(keys)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (given is null or { Length: 0 })
            {
                var configuration = CliConfiguration.Build(result.UnmatchedTokens);
                given = KeySet.Discover(configuration, CliConfiguration.KeyPrefix(configuration)).Keys.Keys.Select(k => k.Secret).ToArray();
            }
            if (given.Length == 0)
            {
                AnsiConsole.MarkupLine("[red]No keys:[/] pass --keys k1,k2 or set XAI_API_KEY, XAI_API_KEY_2, …");
                return 1;
            }
            foreach (var key in given)
            {
                options.Keys.Add(key);
            }
            await using var emulator = await UpstreamEmulator.StartAsync(options, result.GetValue(urls)!, TimeProvider.System, cancellationToken);
            AnsiConsole.MarkupLineInterpolated($"Upstream emulator with {given.Length} keys at [bold]{emulator.BaseUrl}[/]");
            await emulator.WaitForShutdownAsync(cancellationToken);
            return 0;
        });
        return command;
    }
}
