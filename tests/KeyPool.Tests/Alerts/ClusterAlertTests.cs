using System.Text.Json;
using KeyPool.Keys;
using KeyPool.Redis.Connections;
using KeyPool.Telemetry;
using KeyPool.Tests.Infrastructure;
using KeyPool.TestServers;
using Microsoft.Extensions.DependencyInjection;

namespace KeyPool.Tests.Alerts;

/// <summary>Two gateways on one Redis and one store: one of them sends the alerts both judge, and when it stops the other sends.</summary>
public sealed class ClusterAlertTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task RevokedKey_OneInstancePostsTheAlert_AndWhenItStops_TheOtherPostsTheResolution()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var receiver = await HttpReceiver.StartAsync();
        var shared = Directory.CreateTempSubdirectory("keypool-alerts-cluster-").FullName;
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Redis"] = redis.ConnectionString,
            ["KeyPool:Cluster:Prefix"] = $"kp{Guid.NewGuid():N}"[..12],
            ["ConnectionStrings:KeyPool"] = $"Data Source={Path.Combine(shared, "keypool.db")}",
            ["KeyPool:Alerts:Webhooks:0:Url"] = new Uri(receiver.BaseAddress, "/hooks/ops").ToString(),
        };
        var gateways = new List<GatewayHarness>();
        try
        {
            gateways.Add(await GatewayHarness.StartAsync(keyCount: 3, settings: settings));
            gateways.Add(await GatewayHarness.StartAsync(keyCount: 3, settings: settings));
            Assert.Equal(200, (await gateways[0].ChatAsync("victim")).Status);
            var group = await gateways[0].GroupOfAsync("victim");
            // Each gateway has its own emulator: the key is revoked upstream for both, so neither probe brings it back.
            gateways.ForEach(g => g.Emulator.Faults.Revoke(g.Keys[group - 1]));
            Assert.Equal(200, (await gateways[0].ChatAsync("victim")).Status); // served by another key; this one is now revoked

            foreach (var gateway in gateways)
            {
                Assert.True(await Poll.TimeUntilAsync(async () => (await gateway.KeyStatsAsync(group)).GetProperty("state").GetString() == "revoked", Bound) is not null, "both instances see the key revoked");
            }
            Assert.True(await receiver.WaitForAsync(r => !r.Received.IsEmpty, Bound), "the alert arrived within 30 s");
            await Task.Delay(4000); // four more checks on each instance: still one alert
            var firing = JsonDocument.Parse(Assert.Single(receiver.Received).Body).RootElement;
            Assert.Equal(("firing", "key_revoked", group), (firing.GetProperty("status").GetString(), firing.GetProperty("alert").GetString(), firing.GetProperty("key_group").GetInt32()));

            var names = gateways.Select(g => g.App.Services.GetRequiredService<InstanceName>().Value).ToList();
            Assert.Equal(2, names.Distinct().Count());
            var sender = names.IndexOf(firing.GetProperty("instance").GetString()!);
            Assert.True(sender >= 0, "the alert names the instance that sent it");
            var survivor = gateways[1 - sender];
            await gateways[sender].DisposeAsync();
            gateways.RemoveAt(sender);

            survivor.Emulator.Faults.Restore(survivor.Keys[group - 1]);
            await survivor.App.Services.GetRequiredService<RevokedKeyProbe>().ProbeAsync(CancellationToken.None);

            Assert.True(await receiver.WaitForAsync(r => r.Received.Count >= 2, Bound), "the resolution arrived within 30 s");
            await Task.Delay(3000);
            Assert.Equal(2, receiver.Received.Count);
            var resolved = JsonDocument.Parse(receiver.Received.Last().Body).RootElement;
            Assert.Equal(("resolved", "key_revoked", group), (resolved.GetProperty("status").GetString(), resolved.GetProperty("alert").GetString(), resolved.GetProperty("key_group").GetInt32()));
            Assert.Equal(names[1 - sender], resolved.GetProperty("instance").GetString());
        }
        finally
        {
            foreach (var gateway in gateways)
            {
                await gateway.DisposeAsync();
            }
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(shared, recursive: true);
        }
    }

    [Fact]
    public async Task SenderLease_OneHolder_HandedOverOnRelease_TakenFreeWhenItRunsOut()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var connection = await RedisConnection.ConnectAsync(redis.ConnectionString, $"kp{Guid.NewGuid():N}"[..12]);
        var lease = new RedisLease(connection);
        var ttl = TimeSpan.FromMilliseconds(300);

        Assert.Equal(LeaseTurn.TakenFree, await lease.HoldAsync("sender", "a", ttl));
        Assert.Equal(LeaseTurn.Refused, await lease.HoldAsync("sender", "b", ttl));
        Assert.Equal(LeaseTurn.Renewed, await lease.HoldAsync("sender", "a", TimeSpan.FromMinutes(1)));
        await lease.ReleaseAsync("sender", "b", ttl); // not b's to release
        Assert.Equal(LeaseTurn.Refused, await lease.HoldAsync("sender", "b", ttl));

        await lease.ReleaseAsync("sender", "a", TimeSpan.FromMinutes(1));
        Assert.Equal(LeaseTurn.HandedOver, await lease.HoldAsync("sender", "b", ttl));
        Assert.Equal(LeaseTurn.Refused, await lease.HoldAsync("sender", "a", ttl));

        // b vanishes: its lease runs out and a takes it as lost.
        Assert.True(await Poll.TimeUntilAsync(async () => await lease.HoldAsync("sender", "a", ttl) == LeaseTurn.TakenFree, Bound) is not null, "taken once b's lease ran out");
    }
}
