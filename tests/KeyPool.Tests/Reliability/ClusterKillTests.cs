using System.Globalization;
using KeyPool.Tests.Cluster;
using KeyPool.Tests.Infrastructure;
using KeyPool.TestServers;
using Xunit.Abstractions;

namespace KeyPool.Tests.Reliability;

/// <summary>
/// nginx in front of three real instances on PostgreSQL + Redis, offered more than the keys allow; one instance is
/// killed with SIGKILL. The others keep serving, the upstream never answers 429, the survivors count two instances
/// within the heartbeat timeout and serve the pool's whole budget again, and the usage lost is at most what the dead
/// instance had not flushed (its last flush interval and its requests in flight).
/// </summary>
public sealed class ClusterKillTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int RequestsPerMinute = 240; // per key, each its own team: 4 a second
    private const int Keys = 3;
    private const int Workers = 5;

    private ClusterTestBed _bed = null!;
    private NginxServer _nginx = null!;

    public async Task InitializeAsync()
    {
        _bed = await ClusterTestBed.StartAsync(instances: 3, keys: Keys, emulator => emulator.RequestsPerMinute = RequestsPerMinute, new Dictionary<string, string>
        {
            ["KeyPool__Budgets__RequestsPerMinute"] = RequestsPerMinute.ToString(CultureInfo.InvariantCulture),
            ["KeyPool__Routing__MaxQueueWait"] = "00:00:00.500",
        });
        _nginx = await NginxServer.StartAsync(_bed.Ports);
    }

    public async Task DisposeAsync()
    {
        await _nginx.DisposeAsync();
        await _bed.DisposeAsync();
    }

    [Fact]
    public async Task Kill9OneInstance_UnderOverload_OthersServe_No429Upstream_BudgetBackWithinSeconds_LostUsageBounded()
    {
        using var http = new HttpClient { BaseAddress = _nginx.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        var load = new ClientLoad(http, plainWorkers: Workers - 1, streamWorkers: 1, pause: TimeSpan.FromMilliseconds(150));
        IReadOnlyList<ClientLoad.Outcome> outcomes;
        TimeSpan killedAt;
        TimeSpan? twoInstancesAfter;
        var startedAt = DateTimeOffset.UtcNow - load.Elapsed;
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(8));
            killedAt = load.Elapsed;
            await _bed.KillAsync(2);
            // The survivors stop counting the dead instance when its heartbeat is older than the timeout (5 s by default).
            twoInstancesAfter = await Poll.TimeUntilAsync(async () =>
            {
                var alive = await Task.WhenAll(Enumerable.Range(0, 2).Select(async i =>
                    (await ClusterTestBed.HealthAsync(_bed.Instance(i).Http)).GetProperty("instance").GetProperty("instances_alive").GetInt32()));
                return alive.All(n => n == 2);
            }, TimeSpan.FromSeconds(30));
            var remaining = killedAt + TimeSpan.FromSeconds(16) - load.Elapsed;
            if (remaining > TimeSpan.Zero)
            {
                await Task.Delay(remaining);
            }
        }
        finally
        {
            outcomes = await load.StopAsync();
        }

        // Upstream answers per second of the run, by the emulator's clock.
        var upstreamSeconds = _bed.Emulator.Served.Where(s => s.Path.EndsWith("/chat/completions", StringComparison.Ordinal) && s.Status == 200)
            .GroupBy(s => (int)(s.At - startedAt).TotalSeconds).OrderBy(g => g.Key).ToDictionary(g => g.Key, g => g.Count());
        var perSecond = upstreamSeconds.Select(s => $"{s.Key}:{s.Value}");
        // The dead instance's share of the budget is back when the survivors serve the keys' whole rate again.
        var from = (int)killedAt.TotalSeconds + 3;
        var rateAfter = Enumerable.Range(from, 10).Average(s => upstreamSeconds.GetValueOrDefault(s));
        var failures = outcomes.Where(o => o.Status is not (200 or 429)).ToArray();
        var afterKill = outcomes.Where(o => o.At > killedAt + TimeSpan.FromSeconds(2)).ToArray();
        var servedAfter = afterKill.Count(o => o.Status == 200);
        output.WriteLine($"{outcomes.Count} client requests: {outcomes.Count(o => o.Status == 200)} served, {outcomes.Count(o => o.Status == 429)} refused by KeyPool (429), {failures.Length} failed");
        output.WriteLine($"killed at {killedAt.TotalSeconds:0.0} s; the survivors counted 2 instances after {ClusterTestBed.Seconds(twoInstancesAfter)}");
        output.WriteLine($"served upstream per second: {string.Join(" ", perSecond)}; {rateAfter:0.0}/s from 3 s after the kill (capacity {Keys * RequestsPerMinute / 60}/s)");

        Assert.Equal(0, _bed.Upstream429s);
        // Only requests in flight at the dead instance may fail (nginx cannot resend a POST it had sent): one per worker at most.
        Assert.True(failures.Length <= Workers, $"{failures.Length} requests failed, e.g. {string.Join(" | ", failures.Take(3).Select(f => $"{f.Status} at {f.At.TotalSeconds:0.0} s: {f.Body}"))}");
        Assert.True(failures.All(f => f.At < killedAt + TimeSpan.FromSeconds(5)), "requests failed long after the kill: " + string.Join(", ", failures.Select(f => f.At.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture))));
        Assert.True(twoInstancesAfter is not null, "the survivors never stopped counting the dead instance");
        Assert.True(servedAfter >= 20, $"only {servedAfter} requests were served in the seconds after the kill");
        // Generous: the load generator itself may fall behind on a loaded machine.
        Assert.True(rateAfter >= Keys * RequestsPerMinute / 60 / 2.0, $"the survivors served {rateAfter:0.0}/s after the kill");

        // Lost usage: what the upstream served that no instance wrote. The dead one had at most its last flush interval
        // (1 s) and its requests in flight unwritten; bounded here by all successes of the 2 s before the kill plus the workers.
        var served = _bed.UpstreamChatAttempts;
        long stored = 0;
        // The survivors have written everything once their health (store + unflushed) shows what the store holds.
        var flushed = await Poll.TimeUntilAsync(async () =>
        {
            stored = await _bed.StoredRequestsAsync();
            var shown = await Task.WhenAll(Enumerable.Range(0, 2).Select(async i => ClusterTestBed.TotalRequests(await ClusterTestBed.HealthAsync(_bed.Instance(i).Http))));
            return shown.All(s => s == stored);
        }, TimeSpan.FromSeconds(15));
        Assert.True(flushed is not null, "the survivors did not settle on the store's totals");
        var lost = served - stored;
        var bound = outcomes.Count(o => o.Status == 200 && o.At > killedAt - TimeSpan.FromSeconds(2) && o.At <= killedAt) + Workers;
        output.WriteLine($"upstream attempts {served}, stored {stored}: {lost} lost with the dead instance (bound {bound})");
        Assert.InRange(lost, 0, bound);
    }
}
