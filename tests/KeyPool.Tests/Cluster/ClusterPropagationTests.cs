using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using KeyPool.Core.Users;
using KeyPool.Sqlite;
using KeyPool.Tests.Infrastructure;
using KeyPool.TestServers;
using Microsoft.Extensions.DependencyInjection;

namespace KeyPool.Tests.Cluster;

/// <summary>
/// Two gateways on one Redis and one store: what one of them learns or decides reaches the other within a
/// second over pub/sub (a revoked upstream key and its re-enabling, a revoked gateway key, a reload).
/// </summary>
public sealed class ClusterPropagationTests : IAsyncLifetime
{
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(1);

    private RedisServer _redis = null!;
    private GatewayHarness _a = null!;
    private GatewayHarness _b = null!;

    public async Task InitializeAsync()
    {
        _redis = await RedisServer.StartAsync();
        var prefix = $"kp{Guid.NewGuid():N}"[..12];
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Redis"] = _redis.ConnectionString,
            ["KeyPool:Cluster:Prefix"] = prefix,
            ["KeyPool:Auth:GatewayKeys:Enabled"] = "true",
            ["KeyPool:Tiers:limited:RequestsPerMinute"] = "1",
            ["KeyPool:Tiers:pro:RequestsPerMinute"] = "1000",
        };
        _a = await GatewayHarness.StartAsync(keyCount: 3, settings: settings);
        settings["ConnectionStrings:KeyPool"] = $"Data Source={_a.DatabasePath}";
        _b = await GatewayHarness.StartAsync(keyCount: 3, settings: settings);
    }

    public async Task DisposeAsync()
    {
        await _b.DisposeAsync();
        await _a.DisposeAsync();
        await _redis.DisposeAsync();
    }

    [Fact]
    public async Task KeyRevokedOnOneInstance_IsRevokedOnTheOther_WithinOneSecond_AndReenabledBack()
    {
        var group = await SignUpAsync(_a, "revoke-user");
        _a.Emulator.Faults.Revoke(_a.Keys[group - 1]);

        var (status, _, _) = await _a.ChatAsync("revoke-user"); // served by another key; this one is taken out
        Assert.Equal(200, status);
        Assert.Equal("revoked", await StateAsync(_a, group));
        await AssertWithinAsync(async () => await StateAsync(_b, group) == "revoked");

        using var enable = await _b.Http.SendAsync(_b.Admin(HttpMethod.Post, $"/api/admin/api-keys/{group}/enable"));
        Assert.Equal(HttpStatusCode.OK, enable.StatusCode);
        await AssertWithinAsync(async () => await StateAsync(_a, group) == "active");
    }

    [Fact]
    public async Task GatewayKeyRevokedOnOneInstance_StopsOnTheOther_WithinOneSecond()
    {
        using var issue = await _a.Http.SendAsync(_a.Admin(HttpMethod.Post, "/api/admin/users/carol/keys"));
        var issued = await issue.Content.ReadFromJsonAsync<JsonElement>();
        var key = issued.GetProperty("key").GetString()!;
        using (var warm = await _b.Http.SendAsync(_b.ChatRequest(GatewayHarness.ChatBody(), token: key)))
        {
            Assert.Equal(HttpStatusCode.OK, warm.StatusCode); // now cached on B for a minute
        }

        using var revoke = await _a.Http.SendAsync(_a.Admin(HttpMethod.Delete, $"/api/admin/users/carol/keys/{issued.GetProperty("id").GetString()}"));
        Assert.Equal(HttpStatusCode.NoContent, revoke.StatusCode);

        await AssertWithinAsync(async () =>
        {
            using var after = await _b.Http.SendAsync(_b.ChatRequest(GatewayHarness.ChatBody(), token: key));
            return after.StatusCode == HttpStatusCode.Unauthorized;
        });
    }

    [Fact]
    public async Task RebalanceOnOneInstance_ClearsTheUserCacheOfTheOther_WithinOneSecond()
    {
        await using (var store = new SqliteStore($"Data Source={_a.DatabasePath}", TimeProvider.System))
        {
            for (var i = 0; i < 6; i++)
            {
                await store.GetOrAssignAsync($"crowded-{i}", "free", [1], CancellationToken.None); // 6, 0, 0: uneven
            }
        }
        var (status, _, _) = await _b.ChatAsync("crowded-0"); // cached on B
        Assert.Equal(200, status);
        var cacheOfB = _b.App.Services.GetRequiredService<UserGroupCache>();
        Assert.NotEqual(0, cacheOfB.Count);

        using var rebalance = await _a.Http.SendAsync(_a.Admin(HttpMethod.Post, "/api/admin/rebalance"));
        Assert.Equal(HttpStatusCode.OK, rebalance.StatusCode);
        Assert.True((await rebalance.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("moved").GetInt64() > 0);

        await AssertWithinAsync(() => Task.FromResult(cacheOfB.Count == 0));
    }

    [Fact]
    public async Task UserPatchedOnOneInstance_IsSeenByTheOther_WithinOneSecond()
    {
        using (var created = await _a.Http.SendAsync(_a.Admin(HttpMethod.Post, "/api/admin/users", new { id = "upgrade-me", tier = "limited" })))
        {
            created.EnsureSuccessStatusCode();
        }
        Assert.Equal(200, (await _b.ChatAsync("upgrade-me")).Status); // cached on B with its tier
        Assert.Equal(429, (await _b.ChatAsync("upgrade-me")).Status);
        var target = await _b.GroupOfAsync("upgrade-me") % 3 + 1;

        using var patch = await _a.Http.SendAsync(_a.Admin(HttpMethod.Patch, "/api/admin/users/upgrade-me", new { tier = "pro", apiKeyGroup = target }));
        Assert.Equal(HttpStatusCode.OK, patch.StatusCode);

        await AssertWithinAsync(async () => (await _b.ChatAsync("upgrade-me")).Status == 200);
        Assert.Equal(target, await _b.GroupOfAsync("upgrade-me"));
        Assert.Equal(target, _b.GroupsThatServed("upgrade-me")[^1]);
    }

    [Fact]
    public async Task ReloadOnOneInstance_ReloadsTheOther()
    {
        using var reload = await _a.Http.SendAsync(_a.Admin(HttpMethod.Post, "/api/admin/api-keys/reload"));
        Assert.Equal(HttpStatusCode.OK, reload.StatusCode);

        await AssertWithinAsync(() => Task.FromResult(_b.LogLines.Any(l => l.Contains("keys reloaded (cluster)", StringComparison.Ordinal))), TimeSpan.FromSeconds(5));
        Assert.DoesNotContain(_a.LogLines, l => l.Contains("keys reloaded (cluster)", StringComparison.Ordinal)); // not echoed back
    }

    [Fact]
    public async Task RedisDown_HealthSaysDegraded_WithTheReason_UntilItIsBack()
    {
        await _redis.StopAsync();
        await AssertWithinAsync(async () => await _b.HealthStatusAsync() == "DEGRADED", TimeSpan.FromSeconds(5));
        var message = (await _b.HealthAsync()).GetProperty("health").GetProperty("message").GetString();
        Assert.Contains("Redis unreachable", message);
        Assert.Single(_b.LogLines, l => l.StartsWith("Shared state unavailable", StringComparison.Ordinal)); // logged once
        var (status, _, _) = await _b.ChatAsync("outage-user");
        Assert.Equal(200, status); // still serving

        await _redis.StartAgainAsync();
        await AssertWithinAsync(async () => await _b.HealthStatusAsync() != "DEGRADED", TimeSpan.FromSeconds(10));
        // Health flips when the round marks the state up; the line is written when that round ends.
        await AssertWithinAsync(() => Task.FromResult(_b.LogLines.Any(l => l.StartsWith("Shared state is back", StringComparison.Ordinal))), TimeSpan.FromSeconds(10));
    }

    private static async Task<int> SignUpAsync(GatewayHarness gateway, string user)
    {
        using var response = await gateway.Http.SendAsync(gateway.Admin(HttpMethod.Post, "/api/admin/users", new { id = user, tier = "free" }));
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("apiKeyGroup").GetInt32();
    }

    private static async Task<string?> StateAsync(GatewayHarness gateway, int group) =>
        (await gateway.KeyStatsAsync(group)).GetProperty("state").GetString();


    // Fails when the condition took longer than the promise: polled often, as the promise is short.
    private static Task AssertWithinAsync(Func<Task<bool>> condition, TimeSpan? within = null) =>
        Poll.UntilAsync(condition, within ?? Within, TimeSpan.FromMilliseconds(20));
}
