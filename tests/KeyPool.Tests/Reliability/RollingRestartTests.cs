using KeyPool.Tests.Cluster;
using KeyPool.Tests.Infrastructure;
using KeyPool.TestServers;
using Xunit.Abstractions;

namespace KeyPool.Tests.Reliability;

/// <summary>
/// A real nginx, configured as <c>docs/deploy.md</c> says, in front of three real instances on PostgreSQL + Redis:
/// each instance in turn is taken out of nginx (<c>down</c>, reload), stopped with SIGTERM, started again and put back,
/// under plain and streamed load. No client request fails, and the store's usage equals what the upstream served.
/// </summary>
public sealed class RollingRestartTests(ITestOutputHelper output) : IAsyncLifetime
{
    private ClusterTestBed _bed = null!;
    private NginxServer _nginx = null!;

    public async Task InitializeAsync()
    {
        // Budgets well above the load: a refusal here would be a failure of the test's own making.
        _bed = await ClusterTestBed.StartAsync(instances: 3, keys: 3, emulator => emulator.RequestsPerMinute = 6_000, new Dictionary<string, string>
        {
            ["KeyPool__Budgets__RequestsPerMinute"] = "6000",
        });
        _nginx = await NginxServer.StartAsync(_bed.Ports);
    }

    public async Task DisposeAsync()
    {
        await _nginx.DisposeAsync();
        await _bed.DisposeAsync();
    }

    [Fact]
    public async Task SigtermEachInstanceInTurn_UnderPlainAndStreamedLoad_NoClientRequestFails_UsageExact()
    {
        // A connection per request to nginx: its reload (taking an instance out) closes idle kept-alive client connections,
        // and a POST written into one just as it closes fails at the client (HttpClient does not resend it). That race is
        // nginx's own, at any reload; this test measures the instances' restart behind it.
        using var http = new HttpClient { BaseAddress = _nginx.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        http.DefaultRequestHeaders.ConnectionClose = true;
        var load = new ClientLoad(http, plainWorkers: 3, streamWorkers: 2, pause: TimeSpan.FromMilliseconds(20));
        IReadOnlyList<ClientLoad.Outcome> outcomes;
        var restarts = new List<string>();
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(2));
            for (var i = 0; i < 3; i++)
            {
                // As docs/deploy.md says: out of the balancer first, so no new connection is on its way while the listener closes.
                var leaving = load.Elapsed;
                await _nginx.SetDownAsync(i, down: true, TimeSpan.FromSeconds(60));
                var stopping = load.Elapsed;
                Assert.True(await _bed.TerminateAsync(i, TimeSpan.FromSeconds(60)), $"instance {i} did not stop within 60 s");
                var stopped = load.Elapsed;
                await _bed.StartInstanceAsync(i);
                await _nginx.SetDownAsync(i, down: false, TimeSpan.FromSeconds(60));
                restarts.Add($"instance {i}: out of nginx in {(stopping - leaving).TotalSeconds:0.0} s, drained in {(stopped - stopping).TotalSeconds:0.0} s, " +
                    $"back after {(load.Elapsed - leaving).TotalSeconds:0.0} s");
                await Task.Delay(TimeSpan.FromSeconds(1));
            }
            await Task.Delay(TimeSpan.FromSeconds(1));
        }
        finally
        {
            outcomes = await load.StopAsync();
        }

        var failures = outcomes.Where(o => o.Status != 200).ToArray();
        var streamed = outcomes.Count(o => o.Stream);
        output.WriteLine($"{outcomes.Count} client requests ({streamed} streamed), {failures.Length} failed; {string.Join("; ", restarts)}");
        Assert.True(failures.Length == 0,
            $"{failures.Length} of {outcomes.Count} requests failed, e.g. {string.Join(" | ", failures.Take(3).Select(f => $"{f.Status} at {f.At.TotalSeconds:0.0} s: {f.Body}"))}\nnginx: {_nginx.ErrorLog}");
        Assert.True(outcomes.Count >= 100, $"only {outcomes.Count} requests were sent");
        Assert.Equal(0, _bed.Upstream429s);

        // Usage exact: the stopped instances flushed on their way out, the running ones within a second.
        var served = _bed.UpstreamChatAttempts;
        Assert.Equal(outcomes.Count, served);
        var stored = 0L;
        var took = await Poll.TimeUntilAsync(async () => (stored = await _bed.StoredRequestsAsync()) == served, TimeSpan.FromSeconds(15));
        Assert.True(took is not null, $"the upstream served {served}, the store holds {stored}");
        output.WriteLine($"store = upstream = {served}");
    }
}
