using KeyPool.Tests.Infrastructure;
using KeyPool.Tests.Keys;

namespace KeyPool.Tests.Reliability.HostileInput;

/// <summary>
/// Every hostile input of the table, many times over: the gateway's managed memory after a full collection stays
/// flat. It measures the test process, so it runs alone in it.
/// The multi-megabyte bodies are left out: measured in this process the heap grows with each of them (about 40 MB
/// per refused 11 MB upload), and whether the gateway or the in-process client keeps it is not settled yet
/// (docs/reliability.md, open items); the soak measures a separate gateway process instead.
/// </summary>
[Collection(RunsAlone.Name)]
public sealed class HostileInputMemoryTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const int Rounds = 20;

    [Fact]
    public async Task EveryHostileInput_Repeated_MemoryStaysFlat()
    {
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 2, settings: HostileInputCase.Settings());
        // Cheap cases many times, the multi-megabyte ones fewer: what is measured is what stays behind.
        await SendAllAsync(gateway, 3);
        var before = SettledMemory();

        await SendAllAsync(gateway, Rounds);

        var grown = SettledMemory() - before;
        output.WriteLine($"managed memory after {Rounds} rounds of {HostileInputCase.All.Count(c => !c.MultiMegabyte)} cases: {grown / 1024.0 / 1024.0:+0.0;-0.0} MB");
        Assert.Empty(gateway.ChatServed);
        Assert.True(grown < 10 * 1024 * 1024, $"managed memory grew by {grown / 1024 / 1024} MB");
    }

    private static async Task SendAllAsync(GatewayHarness gateway, int rounds)
    {
        for (var round = 0; round < rounds; round++)
        {
            foreach (var hostile in HostileInputCase.All.Where(c => !c.MultiMegabyte))
            {
                var (status, _) = await SendAsync(gateway, hostile);
                Assert.Equal(hostile.Status, status);
            }
        }
    }

    // A client per request, disposed after the answer: an upload the gateway refused without reading (413) is
    // abandoned then, so the measure counts what the gateway keeps, not this client's unsent bodies.
    private static async Task<(int Status, string? Code)> SendAsync(GatewayHarness gateway, HostileInputCase hostile)
    {
        using var client = new HttpClient { BaseAddress = gateway.BaseAddress };
        return await HostileInputTests.SendAsync(gateway, hostile, client);
    }

    // The managed heap after a full collection: what the gateway keeps, not what the collector has not reclaimed yet.
    private static long SettledMemory()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        return GC.GetTotalMemory(forceFullCollection: true);
    }
}
