using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using KeyPool.Tests.Infrastructure;
using KeyPool.Tests.Keys;

namespace KeyPool.Tests.Proxy;

/// <summary>
/// Memory bounds under hostile input (docs/security.md, items 3 and 5). They measure the test process, so they
/// run alone in it: other tests' gateways would be counted otherwise.
/// </summary>
[Collection(RunsAlone.Name)]
public sealed class MemoryBoundsTests
{
    private static Task<(HttpStatusCode Status, string? Code)> SendAsync(GatewayHarness gateway, HttpRequestMessage request) =>
        HostileCallerTests.SendAsync(gateway, request);

    [Fact]
    public async Task RandomModelNames_NeverReachTheUpstream_AndMemoryStaysFlat()
    {
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 2);
        await WarmUpAsync(gateway, 200);
        var before = SettledMemory();

        var random = new Random(42);
        for (var i = 0; i < 20_000; i++)
        {
            var model = $"model-{random.NextInt64():x16}";
            using var response = await gateway.Http.SendAsync(gateway.ChatRequest(GatewayHarness.ChatBody(model: model), "eve"));
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        }

        var grown = SettledMemory() - before;
        Assert.DoesNotContain(gateway.ChatServed, s => s.Path.EndsWith("/chat/completions", StringComparison.Ordinal));
        Assert.True(grown < 10 * 1024 * 1024, $"memory grew by {grown / 1024 / 1024} MB");
    }

    private static async Task WarmUpAsync(GatewayHarness gateway, int requests)
    {
        for (var i = 0; i < requests; i++)
        {
            using var response = await gateway.Http.SendAsync(gateway.ChatRequest(GatewayHarness.ChatBody(model: "warm-up-" + i), "eve"));
        }
    }

    // The managed heap after a full collection: what the gateway keeps, not what the collector has not reclaimed yet.
    private static long SettledMemory()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        return GC.GetTotalMemory(forceFullCollection: true);
    }

    [Fact]
    public async Task SlowSendersDeclaring10MB_HoldLittleMemory_AndOthersAreServed()
    {
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 2);
        await WarmUpAsync(gateway, 20);
        var before = Process.GetCurrentProcess().WorkingSet64;
        var sockets = new List<Socket>();
        try
        {
            for (var i = 0; i < 200; i++)
            {
                sockets.Add(await StartSlowUploadAsync(gateway, $"slow-{i}", 10 * 1024 * 1024));
            }
            var (status, _) = await SendAsync(gateway, gateway.ChatRequest(GatewayHarness.ChatBody(), "patient-user"));

            Process.GetCurrentProcess().Refresh();
            var grown = Process.GetCurrentProcess().WorkingSet64 - before;
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.True(grown < 100 * 1024 * 1024, $"RSS grew by {grown / 1024 / 1024} MB with 200 slow 10 MB uploads");
        }
        finally
        {
            foreach (var socket in sockets)
            {
                socket.Dispose();
            }
        }
    }

    /// <summary>A request whose headers promise <paramref name="declared"/> body bytes, of which only the first few are sent.</summary>
    private static async Task<Socket> StartSlowUploadAsync(GatewayHarness gateway, string user, int declared)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, gateway.BaseAddress.Port);
        var head = $"POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {GatewayHarness.ClientToken}\r\n"
            + $"X-KeyPool-User: {user}\r\nContent-Type: application/json\r\nContent-Length: {declared}\r\n\r\n{{\"model\":";
        await socket.SendAsync(Encoding.ASCII.GetBytes(head));
        return socket;
    }
}
