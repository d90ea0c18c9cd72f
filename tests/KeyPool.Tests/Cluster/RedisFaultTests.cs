using System.Globalization;
using Xunit.Abstractions;

namespace KeyPool.Tests.Cluster;

/// <summary>
/// Three real instances on PostgreSQL + Redis under load while Redis misbehaves: it loses all its data (FLUSHALL), or it
/// stalls (SIGSTOP: connections open, no answer). The upstream never answers 429, no request fails, and while Redis
/// stalls the request path does not wait on it beyond the lease design.
/// </summary>
public sealed class RedisFaultTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int Keys = 3;
    private ClusterTestBed? _bed;

    private ClusterTestBed Bed => _bed ?? throw new InvalidOperationException("not started");

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_bed is not null)
        {
            await _bed.DisposeAsync();
        }
    }

    [Fact]
    public async Task RedisFlushAllMidRun_UnderOverload_NoUpstream429_NoFailure_ServiceContinues()
    {
        const int requestsPerMinute = 240; // per key and team: 12 a second for the pool
        await StartAsync(requestsPerMinute);
        var load = new ClientLoad(Clients(), plainWorkers: 4, streamWorkers: 1, pause: TimeSpan.FromMilliseconds(150));
        IReadOnlyList<ClientLoad.Outcome> outcomes;
        TimeSpan flushedAt;
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(6));
            flushedAt = load.Elapsed;
            await Bed.Redis.FlushAllAsync();
            await Task.Delay(TimeSpan.FromSeconds(10));
        }
        finally
        {
            outcomes = await load.StopAsync();
        }

        var failures = outcomes.Where(o => o.Status is not (200 or 429)).ToArray();
        var servedAfter = outcomes.Count(o => o.Status == 200 && o.At > flushedAt + TimeSpan.FromSeconds(1));
        output.WriteLine($"FLUSHALL at {flushedAt.TotalSeconds:0.0} s: {outcomes.Count} requests, {outcomes.Count(o => o.Status == 200)} served ({servedAfter} after the flush), " +
            $"{outcomes.Count(o => o.Status == 429)} refused by KeyPool, {failures.Length} failed, {Bed.Upstream429s} upstream 429s");
        Assert.Equal(0, Bed.Upstream429s);
        Assert.True(failures.Length == 0, $"{failures.Length} failed, e.g. {failures.FirstOrDefault()}");
        Assert.True(servedAfter >= 30, $"only {servedAfter} served after the flush");
    }

    [Fact]
    public async Task RedisStalled_RequestPathDoesNotWaitOnIt_P99StaysFarBelowTheRequestTimeout()
    {
        // Budgets far above the load: what is measured is the wait on Redis, not a refusal. The default queue wait (2 s):
        // a request finding its lease empty waits for the next lease, or for the fallback once the ledger's command times out.
        await StartAsync(6_000, queueWait: null);
        var load = new ClientLoad(Clients(), plainWorkers: 3, streamWorkers: 1, pause: TimeSpan.FromMilliseconds(50));
        IReadOnlyList<ClientLoad.Outcome> outcomes;
        TimeSpan pausedAt, resumedAt;
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(6));
            pausedAt = load.Elapsed;
            await Bed.Redis.PauseAsync();
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(8));
            }
            finally
            {
                await Bed.Redis.ResumeAsync();
            }
            resumedAt = load.Elapsed;
            await Task.Delay(TimeSpan.FromSeconds(3));
        }
        finally
        {
            outcomes = await load.StopAsync();
        }

        // Requests that began and ended before the stall, and those that began during it.
        var normal = outcomes.Where(o => o.At - o.Took > TimeSpan.FromSeconds(1) && o.At < pausedAt).ToArray();
        var stalled = outcomes.Where(o => o.At - o.Took >= pausedAt && o.At - o.Took < resumedAt).ToArray();
        var failures = outcomes.Where(o => o.Status != 200).ToArray();
        output.WriteLine($"Redis paused {(resumedAt - pausedAt).TotalSeconds:0.0} s: normal {Describe(normal)}; while stalled {Describe(stalled)}; {failures.Length} not served, {Bed.Upstream429s} upstream 429s");
        Assert.Equal(0, Bed.Upstream429s);
        Assert.True(failures.Length == 0, $"{failures.Length} not served: {string.Join(" | ", failures.GroupBy(f => f.Status).Select(g => $"{g.Count()} × {g.Key} at {string.Join(",", g.Select(f => (f.At - pausedAt).TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)).Take(12))} s after the pause: {g.First().Body}"))}");
        Assert.True(stalled.Length >= 10, $"only {stalled.Length} requests were sent while Redis stalled");
        // Generous, on the scale of a request timeout (tens of seconds): the lease design bounds a wait by the queue wait
        // (2 s) and the ledger's command timeout (1 s); a request path waiting on a frozen Redis would take the whole stall.
        Assert.True(Percentile(stalled, 0.99) < TimeSpan.FromSeconds(5), $"p99 while Redis stalled: {Describe(stalled)}");
    }

    private async Task StartAsync(int requestsPerMinute, string? queueWait = "00:00:00.500")
    {
        var settings = new Dictionary<string, string> { ["KeyPool__Budgets__RequestsPerMinute"] = requestsPerMinute.ToString(CultureInfo.InvariantCulture) };
        if (queueWait is not null)
        {
            settings["KeyPool__Routing__MaxQueueWait"] = queueWait;
        }
        _bed = await ClusterTestBed.StartAsync(instances: 3, keys: Keys, emulator => emulator.RequestsPerMinute = requestsPerMinute, settings);
    }

    private HttpClient[] Clients() => Enumerable.Range(0, 3).Select(i => Bed.Instance(i).Http).ToArray();

    private static TimeSpan Percentile(IReadOnlyList<ClientLoad.Outcome> outcomes, double p)
    {
        if (outcomes.Count == 0)
        {
            return TimeSpan.Zero;
        }
        var sorted = outcomes.Select(o => o.Took).Order().ToArray();
        return sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];
    }

    private static string Describe(IReadOnlyList<ClientLoad.Outcome> outcomes) =>
        $"{outcomes.Count} requests, p50 {Percentile(outcomes, 0.5).TotalMilliseconds:0} ms, p99 {Percentile(outcomes, 0.99).TotalMilliseconds:0} ms, max {Percentile(outcomes, 1).TotalMilliseconds:0} ms";
}
