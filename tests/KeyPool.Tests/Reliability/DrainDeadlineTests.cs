using System.Diagnostics;
using KeyPool.Tests.Keys;
using Xunit.Abstractions;

namespace KeyPool.Tests.Reliability;

/// <summary>
/// A real <c>keypool serve</c> whose streams outlast its drain deadline: they are cut at the deadline, and their usage
/// is still written. Runs alone: a 2 s deadline on a machine loaded by the parallel suite once left requests unwinding
/// past the last flush (3 of 10 recorded, in one of some thirty runs).
/// </summary>
[Collection(RunsAlone.Name)]
public sealed class DrainDeadlineTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Sigterm_StreamsLongerThanTheDrainDeadline_AreCut_AtTheDeadline_AndTheirUsageIsStillWritten()
    {
        await using var bed = await ProcessTestBed.StartAsync(keyCount: 2, new Dictionary<string, string>
        {
            ["KeyPool__Shutdown__DrainTimeout"] = "00:00:02",
        });
        var gateway = await bed.StartGatewayAsync();
        using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 10 }) { BaseAddress = gateway.BaseAddress, Timeout = TimeSpan.FromMinutes(2) };
        bed.Emulator.Faults.ChunkDelay = TimeSpan.FromSeconds(2); // ≈ 18 s a stream: far beyond the drain deadline
        var responses = await Task.WhenAll(Enumerable.Range(0, 10).Select(i =>
            client.SendAsync(ProcessTestBed.Chat($"long-user-{i}", stream: true), HttpCompletionOption.ResponseHeadersRead)));
        var bodies = responses.Select(async r =>
        {
            try
            {
                return await r.Content.ReadAsStringAsync();
            }
            catch (HttpRequestException)
            {
                return "(cut)";
            }
        }).ToArray();
        var clock = Stopwatch.StartNew();

        await gateway.SignalAsync("TERM");
        Assert.True(await gateway.WaitForExitAsync(TimeSpan.FromSeconds(20)), "the process outlived its drain deadline: " + gateway.Output);
        var exited = clock.Elapsed;
        var texts = await Task.WhenAll(bodies);
        Assert.True(gateway.ExitCode == 0, $"exit code {gateway.ExitCode}: {gateway.Output}");

        await bed.StartGatewayAsync();
        var upstream = bed.UpstreamChatAttempts;
        var recorded = await bed.RecordedRequestsAsync();
        output.WriteLine($"SIGTERM, drain deadline 2 s: exited after {exited.TotalSeconds:F1} s; streams with [DONE] {texts.Count(t => t.Contains("data: [DONE]", StringComparison.Ordinal))} of 10; usage: upstream {upstream}, recorded {recorded}");
        Assert.DoesNotContain(texts, t => t.Contains("data: [DONE]", StringComparison.Ordinal)); // cut at the deadline
        Assert.Equal(10, upstream);
        Assert.Equal(upstream, recorded); // the final flush still ran after the deadline had passed
        foreach (var response in responses)
        {
            response.Dispose();
        }
    }
}
