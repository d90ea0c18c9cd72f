using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using KeyPool.Core.Simulation;
using KeyPool.Simulation;
using Spectre.Console;

namespace KeyPool.CommandLine;

/// <summary>
/// <c>keypool simulate</c>: a day of an app's traffic through KeyPool's own routing against keys with the
/// upstream's limits; reports load per key, delays and refusals, and the key count a refusal target needs.
/// </summary>
internal static class SimulateCommand
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public static Command Create()
    {
        var profile = new Option<FileInfo?>("--profile") { Description = "A JSON file with the traffic profile (users, sessionsPerUserPerDay, messagesPerSession, thinkSeconds, tokensPerMessage, tokensSigma, hourlyCurve[24], spikeMultiplier, spikeStartHour, spikeHours); flags override it." };
        var users = new Option<long?>("--users") { Description = "Users active on the day (default 5,000,000)." };
        var keys = new Option<int>("--keys") { Description = "Upstream keys, each its own team.", DefaultValueFactory = _ => 31 };
        var rpm = new Option<int>("--rpm") { Description = "Requests per minute per key.", DefaultValueFactory = _ => 480 };
        var tpm = new Option<long>("--tpm") { Description = "Tokens per minute per key.", DefaultValueFactory = _ => 2_000_000 };
        var burst = new Option<int>("--burst-seconds") { Description = "KeyPool:Budgets:BurstSeconds.", DefaultValueFactory = _ => Core.Budgets.BudgetOptions.DefaultBurstSeconds };
        var wait = new Option<int>("--max-queue-wait") { Description = "Seconds a request may wait for capacity before a 429 (KeyPool:Routing:MaxQueueWait).", DefaultValueFactory = _ => 2 };
        var policy = new Option<string>("--policy") { Description = "Routing policy.", DefaultValueFactory = _ => Core.Routing.KeySelectionPolicies.StickyWithSpillover };
        var sessions = new Option<double?>("--sessions") { Description = "Sessions per user per day, average (default 1)." };
        var messages = new Option<double?>("--messages") { Description = "Messages per session, average (default 5)." };
        var think = new Option<double?>("--think") { Description = "Seconds between a session's messages, average (default 40)." };
        var tokens = new Option<double?>("--tokens") { Description = "Tokens per message, average (default 1,500)." };
        var sigma = new Option<double?>("--tokens-sigma") { Description = "Spread of tokens per message, log-normal sigma (default 0.8)." };
        var spike = new Option<double?>("--spike") { Description = "Viral spike: session starts multiplied by this (default 1: none)." };
        var spikeStart = new Option<double?>("--spike-start") { Description = "Hour the spike starts (default 19)." };
        var spikeHours = new Option<double?>("--spike-hours") { Description = "Hours the spike lasts (default 2)." };
        var target = new Option<string?>("--target-refused") { Description = "Also find the smallest key count that keeps refusals at or under this share, e.g. 0.1%." };
        var seconds = new Option<int>("--seconds") { Description = "Seconds to simulate from midnight.", DefaultValueFactory = _ => 86_400 };
        var seed = new Option<int>("--seed") { Description = "Random seed (same seed, same day).", DefaultValueFactory = _ => 1 };
        var output = new Option<DirectoryInfo?>("--out") { Description = "Write summary.json, load.png and load.svg here." };
        var command = new Command("simulate", "Simulate a day of traffic through KeyPool's routing: load per key, delays, refusals, keys needed.")
        {
            profile, users, keys, rpm, tpm, burst, wait, policy, sessions, messages, think, tokens, sigma, spike, spikeStart, spikeHours, target, seconds, seed, output,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            var traffic = new TrafficProfile();
            if (result.GetValue(profile) is { } file)
            {
                try
                {
                    await using var stream = file.OpenRead();
                    traffic = await JsonSerializer.DeserializeAsync<TrafficProfile>(stream, Json, cancellationToken) ?? traffic;
                }
                catch (Exception exception) when (exception is IOException or JsonException or UnauthorizedAccessException)
                {
                    AnsiConsole.MarkupLineInterpolated($"[red]Cannot read the profile {file.FullName}:[/] {exception.Message}");
                    return 1;
                }
            }
            traffic.Users = result.GetValue(users) ?? traffic.Users;
            traffic.SessionsPerUserPerDay = result.GetValue(sessions) ?? traffic.SessionsPerUserPerDay;
            traffic.MessagesPerSession = result.GetValue(messages) ?? traffic.MessagesPerSession;
            traffic.ThinkSeconds = result.GetValue(think) ?? traffic.ThinkSeconds;
            traffic.TokensPerMessage = result.GetValue(tokens) ?? traffic.TokensPerMessage;
            traffic.TokensSigma = result.GetValue(sigma) ?? traffic.TokensSigma;
            traffic.SpikeMultiplier = result.GetValue(spike) ?? traffic.SpikeMultiplier;
            traffic.SpikeStartHour = result.GetValue(spikeStart) ?? traffic.SpikeStartHour;
            traffic.SpikeHours = result.GetValue(spikeHours) ?? traffic.SpikeHours;
            var pool = new PoolModel
            {
                Keys = result.GetValue(keys),
                RequestsPerMinute = result.GetValue(rpm),
                TokensPerMinute = result.GetValue(tpm),
                BurstSeconds = result.GetValue(burst),
                MaxQueueWaitSeconds = result.GetValue(wait),
                Policy = result.GetValue(policy)!,
            };
            var problems = traffic.Problems().Concat(pool.Problems()).ToList();
            var duration = result.GetValue(seconds);
            if (duration is < 60 or > 7 * 86_400)
            {
                problems.Add($"seconds must be from 60 to 604800, not {duration}.");
            }
            double? targetShare = null;
            if (result.GetValue(target) is { } text)
            {
                targetShare = ParseShare(text);
                if (targetShare is null)
                {
                    problems.Add($"--target-refused must be a share such as 0.1% or 0.001, not '{text}'.");
                }
            }
            if (problems.Count > 0)
            {
                foreach (var problem in problems)
                {
                    AnsiConsole.MarkupLineInterpolated($"[red]{problem}[/]");
                }
                return 1;
            }

            SimulationResult? run = null;
            (int Keys, SimulationResult Result)? needed = null;
            var found = false;
            await AnsiConsole.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                .StartAsync(async progress =>
                {
                    var day = progress.AddTask($"Simulating {traffic.Users:N0} users on {pool.Keys} keys", maxValue: 1);
                    run = await Task.Run(() => PoolSimulator.Run(pool, traffic, duration, result.GetValue(seed), false, new Progress<double>(p => day.Value = p), cancellationToken), cancellationToken);
                    day.Value = 1;
                    if (targetShare is { } share)
                    {
                        var search = progress.AddTask("Searching the key count", maxValue: 1);
                        needed = await Task.Run(() => PoolSimulator.SmallestKeyCount(pool, traffic, share, duration, result.GetValue(seed),
                            trying: k => search.Description = $"Trying {k} keys", progress: new Progress<double>(p => search.Value = p), cancellationToken: cancellationToken), cancellationToken);
                        search.Value = 1;
                        found = needed is not null;
                    }
                });
            Print(run!, pool, traffic);
            if (targetShare is { } wanted)
            {
                if (found)
                {
                    AnsiConsole.MarkupLineInterpolated($"Smallest key count with at most {wanted:P3} refused: [bold]{needed!.Value.Keys}[/] ({needed.Value.Result.RefusedRatio:P3} refused, {needed.Value.Result.DelayedRatio:P2} delayed).");
                }
                else
                {
                    AnsiConsole.MarkupLineInterpolated($"[red]No key count up to 10,000 keeps refusals at or under {wanted:P3}.[/]");
                }
            }
            if (result.GetValue(output) is { } directory)
            {
                directory.Create();
                var summary = Summary(run!, pool, traffic, targetShare, needed);
                await File.WriteAllTextAsync(Path.Combine(directory.FullName, "summary.json"), JsonSerializer.Serialize(summary, Json), cancellationToken);
                LoadChart.Write(directory.FullName, run!, pool.RequestsPerMinute);
                AnsiConsole.MarkupLineInterpolated($"Wrote {Path.Combine(directory.FullName, "summary.json")}, load.png and load.svg.");
            }
            return 0;
        });
        return command;
    }

    private static double? ParseShare(string text)
    {
        var percent = text.EndsWith('%');
        return double.TryParse(percent ? text[..^1] : text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && value >= 0
            ? (percent ? value / 100 : value) is var share && share <= 1 ? share : null
            : null;
    }

    private static void Print(SimulationResult run, PoolModel pool, TrafficProfile traffic)
    {
        var table = new Table().AddColumn("Figure").AddColumn(new TableColumn("Value").RightAligned());
        table.AddRow("Users / sessions / requests", $"{traffic.Users:N0} / {run.Sessions:N0} / {run.Requests:N0}");
        table.AddRow("Keys × RPM / TPM", $"{pool.Keys} × {pool.RequestsPerMinute:N0} / {pool.TokensPerMinute:N0}");
        table.AddRow("Peak offered RPM (pool capacity)", $"{run.OfferedPerMinute.Max():N0} ({(long)pool.Keys * pool.RequestsPerMinute:N0})");
        table.AddRow("Peak RPM per key (max / mean)", $"{run.PeakRpmPerKey.Max():N0} / {run.PeakRpmPerKey.Average():N0}");
        table.AddRow("Peak TPM per key (max / mean)", $"{run.PeakTpmPerKey.Max():N0} / {run.PeakTpmPerKey.Average():N0}");
        table.AddRow("Delayed", $"{run.Delayed:N0} ({run.DelayedRatio:P2})");
        table.AddRow("Refused (429)", $"{run.Refused:N0} ({run.RefusedRatio:P3})");
        table.AddRow("Queue wait p50 / p99", $"{run.WaitP50Seconds} s / {run.WaitP99Seconds} s");
        table.AddRow("Spills (served off the user's key)", $"{run.Spills:N0} ({1 - run.StickyRatio:P2})");
        table.AddRow("Simulated in", $"{run.Elapsed.TotalSeconds:N1} s");
        AnsiConsole.Write(table);
    }

    private static object Summary(SimulationResult run, PoolModel pool, TrafficProfile traffic, double? target, (int Keys, SimulationResult Result)? needed) => new
    {
        pool,
        traffic,
        seconds = run.Seconds,
        sessions = run.Sessions,
        requests = run.Requests,
        immediate = run.Immediate,
        delayed = run.Delayed,
        refused = run.Refused,
        delayedRatio = Math.Round(run.DelayedRatio, 6),
        refusedRatio = Math.Round(run.RefusedRatio, 6),
        spills = run.Spills,
        stickyRatio = Math.Round(run.StickyRatio, 6),
        waitP50Seconds = run.WaitP50Seconds,
        waitP99Seconds = run.WaitP99Seconds,
        peakOfferedRpm = run.OfferedPerMinute.Max(),
        peakRpmPerKey = run.PeakRpmPerKey,
        peakTpmPerKey = run.PeakTpmPerKey,
        targetRefused = target,
        keysNeeded = needed?.Keys,
        keysNeededRefusedRatio = needed is { } n ? Math.Round(n.Result.RefusedRatio, 6) : (double?)null,
        elapsedSeconds = Math.Round(run.Elapsed.TotalSeconds, 2),
    };
}
