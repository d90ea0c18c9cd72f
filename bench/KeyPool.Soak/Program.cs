using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using KeyPool.Emulator;
using KeyPool.Soak;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

// bench/soak.sh: a long run of a real `keypool serve` under mixed load, upstream faults and key reloads, then
// the checks: usage recorded equals what the upstream counted, and memory and descriptors did not grow.
var options = SoakOptions.Parse(args);
var directory = Directory.CreateTempSubdirectory("keypool-soak-").FullName;
var keys = Enumerable.Range(1, options.Keys).Select(i => $"xai-soak{i:D2}-{new string((char)('a' + i), 24)}{i:D4}").ToList();
var emulatorOptions = new EmulatorOptions
{
    // Limits out of the way: the soak is about the gateway's resources and accounting, not rate limits.
    RequestsPerMinute = 10_000_000,
    TokensPerMinute = 100_000_000_000,
    StreamChunks = 8,
    ConfigureLogging = logging => logging.ClearProviders(),
};
foreach (var key in keys)
{
    emulatorOptions.Keys.Add(key);
}

await using var emulator = await UpstreamEmulator.StartAsync(emulatorOptions);
await using var gateway = await GatewayProcess.StartAsync(options.KeypoolDll, emulator.BaseUrl, keys, directory);
Console.WriteLine($"soak: {options.Seconds} s, {options.Users:N0} users, {options.Workers} workers, {options.Keys} keys; gateway pid {gateway.Id} at {gateway.BaseAddress}");

var upstreamChat = 0L;
void CountServed()
{
    foreach (var served in emulator.TakeServed())
    {
        if (served.Path.EndsWith("/chat/completions", StringComparison.Ordinal))
        {
            upstreamChat++;
        }
    }
}

var load = new LoadClient(gateway.BaseAddress, options.Users, options.Workers);
using var stopLoad = new CancellationTokenSource();
using var stopChores = new CancellationTokenSource();
var running = load.RunAsync(stopLoad.Token);
var faults = 0;
var reloads = 0;
var reloadFailures = 0;
var chores = Task.Run(async () =>
{
    using var admin = new HttpClient { BaseAddress = gateway.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
    int[] statuses = [500, 503, 502, 429];
    for (var tick = 1; !stopChores.IsCancellationRequested; tick++)
    {
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(1), stopChores.Token);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        CountServed();
        if (tick % 3 == 0)
        {
            // An upstream fault every 3 s: a short burst of errors before any byte, each retried on another key.
            emulator.Faults.FailNext(3, statuses[faults++ % statuses.Length]);
        }
        if (tick % 5 == 0)
        {
            using var reload = new HttpRequestMessage(HttpMethod.Post, "/api/admin/api-keys/reload");
            reload.Headers.Authorization = new AuthenticationHeaderValue("Bearer", GatewayProcess.AdminToken);
            using var response = await admin.SendAsync(reload);
            reloads++;
            reloadFailures += response.IsSuccessStatusCode ? 0 : 1;
        }
    }
});

var clock = Stopwatch.StartNew();
var warmUp = TimeSpan.FromSeconds(Math.Clamp(options.Seconds / 10, 10, 60));
await Task.Delay(warmUp);
var sentAtStart = load.Sent;
var start = gateway.Sample();
Console.WriteLine($"after warm-up ({warmUp.TotalSeconds:0} s): {start}");
await Task.Delay(TimeSpan.FromSeconds(options.Seconds) - clock.Elapsed);
var end = gateway.Sample();
Console.WriteLine($"at the end ({clock.Elapsed.TotalSeconds:0} s): {end}");

await stopLoad.CancelAsync();
await running;
await stopChores.CancelAsync();
await chores;
var exitCode = await gateway.StopAsync(TimeSpan.FromSeconds(60));
CountServed();

long recordedRequests, recordedTokens;
await using (var connection = new SqliteConnection($"Data Source={gateway.Database};Pooling=False"))
{
    await connection.OpenAsync();
    using var command = connection.CreateCommand();
    command.CommandText = "SELECT COALESCE(SUM(total_requests), 0), COALESCE(SUM(total_tokens), 0) FROM api_key_stats;";
    using var reader = await command.ExecuteReaderAsync();
    await reader.ReadAsync();
    (recordedRequests, recordedTokens) = (reader.GetInt64(0), reader.GetInt64(1));
}

var rssLimit = start.RssBytes + Math.Max(64L * 1024 * 1024, start.RssBytes / 4);
var fdLimit = start.FileDescriptors + 32;
var failures = new List<string>();
if (recordedTokens != load.Tokens)
{
    failures.Add($"usage recorded {recordedTokens:N0} tokens, the upstream's answers counted {load.Tokens:N0}");
}
if (recordedRequests != upstreamChat)
{
    failures.Add($"usage recorded {recordedRequests:N0} upstream requests, the upstream served {upstreamChat:N0}");
}
if (end.RssBytes > rssLimit)
{
    failures.Add($"RSS grew from {start.RssBytes / 1048576.0:0.0} MB to {end.RssBytes / 1048576.0:0.0} MB (limit {rssLimit / 1048576.0:0.0} MB)");
}
if (end.FileDescriptors > fdLimit)
{
    failures.Add($"open file descriptors grew from {start.FileDescriptors} to {end.FileDescriptors} (limit {fdLimit})");
}
if (exitCode != 0)
{
    failures.Add($"keypool serve exited with {exitCode} on SIGTERM");
}

var result = new
{
    seconds = options.Seconds,
    users = options.Users,
    workers = options.Workers,
    sent = load.Sent,
    sentAfterWarmUp = load.Sent - sentAtStart,
    answered = load.Answered,
    byStatus = load.ByStatus.OrderBy(p => p.Key).ToDictionary(p => p.Key.ToString(CultureInfo.InvariantCulture), p => p.Value),
    streamErrors = load.StreamErrors,
    faults,
    reloads,
    reloadFailures,
    upstreamRequests = upstreamChat,
    recordedRequests,
    clientTokens = load.Tokens,
    recordedTokens,
    usageEqual = recordedTokens == load.Tokens && recordedRequests == upstreamChat,
    rssStartMB = Math.Round(start.RssBytes / 1048576.0, 1),
    rssEndMB = Math.Round(end.RssBytes / 1048576.0, 1),
    rssLimitMB = Math.Round(rssLimit / 1048576.0, 1),
    fdsStart = start.FileDescriptors,
    fdsEnd = end.FileDescriptors,
    fdLimit,
    socketsStart = start.Sockets,
    socketsEnd = end.Sockets,
    failures,
};
Console.WriteLine($"sent {result.sent:N0}, answered 200 {result.answered:N0}, by status {string.Join(", ", result.byStatus.Select(p => $"{p.Key}: {p.Value:N0}"))}, stream errors {result.streamErrors}");
Console.WriteLine($"faults injected {faults}, key reloads {reloads} ({reloadFailures} failed)");
Console.WriteLine($"usage: recorded {recordedRequests:N0} requests / {recordedTokens:N0} tokens; upstream served {upstreamChat:N0} requests, answers counted {load.Tokens:N0} tokens");
Console.WriteLine($"gateway: {start} after warm-up → {end} at the end (limits: RSS {rssLimit / 1048576.0:0.0} MB, {fdLimit} fds)");
Console.WriteLine("SOAK-RESULT " + JsonSerializer.Serialize(result));
Console.WriteLine(failures.Count == 0 ? "soak: OK" : "soak: FAILED — " + string.Join("; ", failures));
try
{
    Directory.Delete(directory, recursive: true);
}
catch (IOException)
{
}
return failures.Count == 0 ? 0 : 1;

internal sealed record SoakOptions(int Seconds, int Users, int Workers, int Keys, string KeypoolDll)
{
    public static SoakOptions Parse(string[] args)
    {
        int seconds = 600, users = 5_000, workers = 16, keys = 6;
        string? keypool = null;
        for (var i = 0; i < args.Length; i++)
        {
            var value = i + 1 < args.Length ? args[i + 1] : throw new ArgumentException($"{args[i]} needs a value.");
            switch (args[i])
            {
                case "--seconds": seconds = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--users": users = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--workers": workers = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--keys": keys = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--keypool": keypool = value; break;
                default: throw new ArgumentException($"Unknown option {args[i]}: use --seconds, --users, --workers, --keys, --keypool.");
            }
            i++;
        }
        if (seconds < 20)
        {
            throw new ArgumentException("--seconds must be at least 20 (10 s of warm-up come first).");
        }
        return new SoakOptions(seconds, users, workers, keys, keypool ?? throw new ArgumentException("--keypool PATH/keypool.dll is required."));
    }
}
