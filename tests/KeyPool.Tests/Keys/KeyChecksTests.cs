using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using KeyPool.Core.Routing;
using KeyPool.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace KeyPool.Tests.Keys;

/// <summary>The start-up key check against an upstream that accepts connections and never answers.</summary>
public sealed class KeyChecksTests
{
    [Fact]
    public async Task Start_UpstreamNeverAnswers_StartsWithinTheCheckTimeout_KeysKeepTheirTeam()
    {
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start(backlog: 64); // the kernel accepts; nobody ever reads or answers
        var port = ((IPEndPoint)silent.LocalEndpoint).Port;
        var clock = Stopwatch.StartNew();

        await using var gateway = await GatewayHarness.StartAsync(keyCount: 3, settings: new Dictionary<string, string?>
        {
            ["KeyPool:Upstream:BaseUrl"] = $"http://127.0.0.1:{port}/v1",
            ["KeyPool:Keys:CheckTimeout"] = "00:00:01",
            ["KeyPool:Keys:Groups:1:Team"] = "team-a",
        });

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"the start took {clock.Elapsed} with a 1 s check time-out per key");
        var pool = gateway.App.Services.GetRequiredService<KeyPoolRouter>().Pool;
        Assert.Equal("team-a", pool.Find(1)!.Team);
        Assert.Equal("key-2", pool.Find(2)!.Team); // unknown: the key is its own team
        Assert.All(pool.Members, m => Assert.Null(m.Health.RevokedReason)); // no answer is no verdict
    }
}
