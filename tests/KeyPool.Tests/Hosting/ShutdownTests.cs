using System.Net;
using KeyPool.Tests.Infrastructure;

namespace KeyPool.Tests.Hosting;

/// <summary>A stop with streams in flight: they finish, and usage written equals what the upstream served.</summary>
public sealed class ShutdownTests
{
    [Fact]
    public async Task Stop_WithStreamsInFlight_FinishesThem_AndWritesAllTheirUsage()
    {
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 3, settings: new Dictionary<string, string?>
        {
            ["KeyPool:Shutdown:DrainTimeout"] = "00:00:30",
        });
        gateway.Emulator.Faults.ChunkDelay = TimeSpan.FromMilliseconds(40);
        const int Streams = 10;
        var responses = new List<HttpResponseMessage>();
        for (var i = 0; i < Streams; i++)
        {
            responses.Add(await gateway.Http.SendAsync(gateway.ChatRequest(GatewayHarness.ChatBody(stream: true), $"drain-{i}"), HttpCompletionOption.ResponseHeadersRead));
        }
        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));

        var stopping = gateway.App.StopAsync();
        var bodies = await Task.WhenAll(responses.Select(r => r.Content.ReadAsStringAsync()));
        await stopping;

        Assert.All(bodies, b => Assert.Contains("data: [DONE]", b, StringComparison.Ordinal));
        var served = gateway.Emulator.Served.Count(s => s.Path.EndsWith("/chat/completions", StringComparison.Ordinal) && s.Status == 200);
        await using var store = new KeyPool.Sqlite.SqliteStore($"Data Source={gateway.DatabasePath}", TimeProvider.System);
        var stored = (await store.ReadAllAsync(CancellationToken.None)).Sum(u => u.Requests);
        Assert.Equal(Streams, served);
        Assert.Equal(served, stored);
        foreach (var response in responses)
        {
            response.Dispose();
        }
    }
}
