using System.Net;
using System.Text.Json;
using KeyPool.Tests.Infrastructure;
using OpenAI.Chat;

namespace KeyPool.Tests.Admin;

public sealed class HealthTests
{
    [Fact]
    public async Task Health_31Keys_OriginalShapeAndFigures()
    {
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 31);

        var body = await gateway.HealthAsync();

        Assert.True(body.GetProperty("ok").GetBoolean());
        var health = body.GetProperty("health");
        Assert.True(health.GetProperty("healthy").GetBoolean());
        Assert.Equal(31, health.GetProperty("totalKeys").GetInt32());
        Assert.Equal("EXCELLENT", health.GetProperty("status").GetString());
        Assert.Equal("Excellent capacity - ready for viral scale!", health.GetProperty("message").GetString());
        var capacity = health.GetProperty("estimatedCapacity");
        Assert.Equal(930_000, capacity.GetProperty("dailyUsers").GetInt64());
        Assert.Equal(31_000, capacity.GetProperty("concurrentUsers").GetInt64());
        Assert.Equal(11_904_000, capacity.GetProperty("requestsPerDay").GetInt64());
        var stats = body.GetProperty("keyGroupStats").EnumerateArray().ToArray();
        Assert.Equal(Enumerable.Range(1, 31), stats.Select(s => s.GetProperty("key_group").GetInt32()));
        foreach (var name in new[] { "user_count", "total_requests", "total_tokens" })
        {
            Assert.All(stats, s => Assert.Equal(0, s.GetProperty(name).GetInt64()));
        }
        Assert.All(stats, s => Assert.Equal(JsonValueKind.Null, s.GetProperty("last_request_at").ValueKind));
    }

    [Fact]
    public async Task Health_CapacityFiguresAreConfigurable()
    {
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 2, settings: new Dictionary<string, string?>
        {
            ["KeyPool:Capacity:DailyUsersPerKey"] = "100",
        });

        var health = (await gateway.HealthAsync()).GetProperty("health");

        Assert.Equal("LIMITED", health.GetProperty("status").GetString());
        Assert.Equal(200, health.GetProperty("estimatedCapacity").GetProperty("dailyUsers").GetInt64());
    }

    [Fact]
    public async Task Health_StatsMatchTheTrafficSent()
    {
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 4, settings: new Dictionary<string, string?>
        {
            ["KeyPool:Routing:MaxAttempts"] = "1", // the injected 5xx stays on the user's key
        });
        var client = gateway.ChatClient();
        var tokensByUser = new Dictionary<string, long>();
        for (var i = 0; i < 12; i++)
        {
            var user = $"user-{i % 6}";
            ChatCompletion completion = await client.CompleteChatAsync([new UserChatMessage($"message {i}")], GatewayHarness.ForUser(user));
            tokensByUser[user] = tokensByUser.GetValueOrDefault(user) + completion.Usage.TotalTokenCount;
        }
        gateway.Emulator.Faults.FailNext(1, 500);
        using (await gateway.Http.SendAsync(gateway.ChatRequest(GatewayHarness.ChatBody(), "user-0")))
        {
        }

        var stats = (await gateway.HealthAsync()).GetProperty("keyGroupStats").EnumerateArray()
            .ToDictionary(s => s.GetProperty("key_group").GetInt32());
        var groups = new Dictionary<string, int>();
        foreach (var user in tokensByUser.Keys)
        {
            groups[user] = await gateway.GroupOfAsync(user);
        }
        foreach (var (group, entry) in stats)
        {
            var users = groups.Where(g => g.Value == group).Select(g => g.Key).ToArray();
            var served = gateway.Emulator.Served.Count(s => s.Key == gateway.Keys[group - 1] && s.Path.EndsWith("/chat/completions", StringComparison.Ordinal));
            Assert.Equal(users.Length, entry.GetProperty("user_count").GetInt64());
            Assert.Equal(served, entry.GetProperty("total_requests").GetInt64());
            Assert.Equal(users.Sum(u => tokensByUser[u]), entry.GetProperty("total_tokens").GetInt64());
            if (served > 0)
            {
                Assert.Equal(JsonValueKind.String, entry.GetProperty("last_request_at").ValueKind);
            }
        }
        Assert.Equal(13, stats.Values.Sum(s => s.GetProperty("total_requests").GetInt64()));
        Assert.Equal(1, stats[groups["user-0"]].GetProperty("errors_5xx").GetInt64());
    }

    [Fact]
    public async Task Usage_IsFlushedToTheStore_AndSurvivesARestart()
    {
        await using var first = await GatewayHarness.StartAsync(keyCount: 2);
        using (await first.Http.SendAsync(first.ChatRequest(GatewayHarness.ChatBody(), "persist")))
        {
        }
        var before = (await first.HealthAsync()).GetProperty("keyGroupStats").EnumerateArray().Sum(s => s.GetProperty("total_tokens").GetInt64());
        await first.App.StopAsync(); // flushes on shutdown

        await using var store = new KeyPool.Sqlite.SqliteStore($"Data Source={first.DatabasePath}", TimeProvider.System);
        var stored = await store.ReadAllAsync(CancellationToken.None);

        Assert.Equal(1, stored.Sum(s => s.Requests));
        Assert.Equal(before, stored.Sum(s => s.TotalTokens));
        Assert.True(before > 0);
    }
}
