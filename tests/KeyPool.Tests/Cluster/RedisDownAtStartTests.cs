using System.Net;
using KeyPool.Tests.Infrastructure;
using KeyPool.TestServers;

namespace KeyPool.Tests.Cluster;

/// <summary>
/// Two gateways started while their Redis is down (a rolling deploy during a Redis restart): they start and serve at
/// once, say DEGRADED, and join the cluster when Redis comes: a reload on one of them then reaches the other, so the
/// cluster channel was subscribed once connected, not only at start.
/// </summary>
public sealed class RedisDownAtStartTests
{
    [Fact]
    public async Task StartedWhileRedisIsDown_ServeAtOnce_AndJoinTheClusterWhenItComes()
    {
        await using var redis = await RedisServer.StartAsync();
        await redis.StopAsync();
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Redis"] = redis.ConnectionString,
            ["KeyPool:Cluster:Prefix"] = $"kp{Guid.NewGuid():N}"[..12],
        };
        await using var a = await GatewayHarness.StartAsync(keyCount: 2, settings: settings);
        settings["ConnectionStrings:KeyPool"] = $"Data Source={a.DatabasePath}";
        await using var b = await GatewayHarness.StartAsync(keyCount: 2, settings: settings);

        Assert.Equal(200, (await a.ChatAsync("early-user")).Status);
        Assert.Equal(200, (await b.ChatAsync("early-user")).Status);
        await Poll.UntilAsync(async () => await b.HealthStatusAsync() == "DEGRADED", TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(50));

        await redis.StartAgainAsync();
        await Poll.UntilAsync(async () => await a.HealthStatusAsync() != "DEGRADED" && await b.HealthStatusAsync() != "DEGRADED", TimeSpan.FromSeconds(15), TimeSpan.FromMilliseconds(50));
        using var reload = await a.Http.SendAsync(a.Admin(HttpMethod.Post, "/api/admin/api-keys/reload"));
        Assert.Equal(HttpStatusCode.OK, reload.StatusCode);

        await Poll.UntilAsync(() => b.LogLines.Any(l => l.Contains("keys reloaded (cluster)", StringComparison.Ordinal)), TimeSpan.FromSeconds(5));
        Assert.Equal(200, (await b.ChatAsync("late-user")).Status);
    }
}
