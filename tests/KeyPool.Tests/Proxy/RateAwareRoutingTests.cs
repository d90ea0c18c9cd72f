using KeyPool.Keys;
using KeyPool.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace KeyPool.Tests.Proxy;

/// <summary>Budgets, spill-over and key health against the emulator, on one fake clock shared by both.</summary>
public sealed class RateAwareRoutingTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 28, 12, 0, 0, TimeSpan.Zero));

    private Task<GatewayHarness> StartAsync(int keys, int rpm, Dictionary<string, string?>? settings = null, Action<KeyPool.Emulator.EmulatorOptions>? emulator = null)
    {
        var all = new Dictionary<string, string?>
        {
            ["KeyPool:Budgets:RequestsPerMinute"] = rpm.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["KeyPool:Routing:MaxQueueWait"] = "00:00:00", // the fake clock does not move by itself
        };
        foreach (var (name, value) in settings ?? [])
        {
            all[name] = value;
        }
        return GatewayHarness.StartAsync(keys, all, options =>
        {
            options.RequestsPerMinute = rpm;
            emulator?.Invoke(options);
        }, time: _time);
    }

    private async Task<Dictionary<string, int>> UsersPerGroupAsync(GatewayHarness gateway, int count)
    {
        var groups = new Dictionary<string, int>();
        for (var i = 0; i < count; i++)
        {
            using (await gateway.Http.SendAsync(gateway.Admin(HttpMethod.Post, "/api/admin/users", new { id = $"user-{i}" })))
            {
            }
            groups[$"user-{i}"] = await gateway.GroupOfAsync($"user-{i}");
        }
        return groups;
    }

    [Fact]
    public async Task ThreeTimesCapacity_ForASimulatedMinute_NoKeyOverrun_EvenSpread_ExcessGets429()
    {
        const int keys = 4, rpm = 60, perSecond = 3 * keys * rpm / 60; // 3× the pool's capacity
        await using var gateway = await StartAsync(keys, rpm);
        await UsersPerGroupAsync(gateway, 40);
        var statuses = new List<int>();
        var retryAfters = new List<string?>();

        for (var second = 0; second < 60; second++)
        {
            var burst = await Task.WhenAll(Enumerable.Range(0, perSecond).Select(i => gateway.ChatAsync($"user-{(second * perSecond + i) % 40}")));
            statuses.AddRange(burst.Select(b => b.Status));
            retryAfters.AddRange(burst.Where(b => b.Status == 429).Select(b => b.RetryAfter));
            _time.Advance(TimeSpan.FromSeconds(1));
        }

        var chats = gateway.ChatServed.Where(s => s.Path.EndsWith("/chat/completions", StringComparison.Ordinal)).ToArray();
        Assert.DoesNotContain(chats, s => s.Status == 429); // the upstream never had to say no
        Assert.Equal(keys * rpm, statuses.Count(s => s == 200)); // the whole budget was used
        Assert.Equal(statuses.Count - keys * rpm, statuses.Count(s => s == 429));
        Assert.All(retryAfters, r => Assert.True(int.TryParse(r, out var seconds) && seconds >= 1, $"Retry-After '{r}'"));
        var perKey = gateway.Keys.Select(k => chats.Count(s => s.Key == k)).ToArray();
        Assert.True(perKey.Max() - perKey.Min() < 0.05 * perKey.Average(), string.Join(",", perKey));
    }

    [Fact]
    public async Task NormalLoad_EveryRequestOfAUser_GoesToTheirOwnKey()
    {
        await using var gateway = await StartAsync(keys: 6, rpm: 6000);
        var groups = await UsersPerGroupAsync(gateway, 30);

        for (var round = 0; round < 5; round++)
        {
            foreach (var user in groups.Keys)
            {
                Assert.Equal(200, (await gateway.ChatAsync(user, stream: round % 2 == 1)).Status);
            }
            _time.Advance(TimeSpan.FromSeconds(1));
        }

        foreach (var (user, group) in groups)
        {
            Assert.Equal(Enumerable.Repeat(group, 5), gateway.GroupsThatServed(user));
        }
        var health = await gateway.HealthAsync();
        Assert.All(health.GetProperty("keyGroupStats").EnumerateArray(), s => Assert.Equal(0, s.GetProperty("spills_in").GetInt64()));
    }

    [Fact]
    public async Task OwnKeyOutOfBudget_SpillsThisRequestOnly_UserKeepsTheirGroup()
    {
        await using var gateway = await StartAsync(keys: 3, rpm: 60, settings: new() { ["KeyPool:Budgets:BurstSeconds"] = "1" }); // 1 request per second per key
        var groups = await UsersPerGroupAsync(gateway, 3);
        var user = groups.First().Key;

        var first = await gateway.ChatAsync(user);
        var second = await gateway.ChatAsync(user);

        Assert.Equal((200, 200), (first.Status, second.Status));
        var served = gateway.GroupsThatServed(user);
        Assert.Equal(groups[user], served[0]);
        Assert.NotEqual(groups[user], served[1]);
        Assert.Equal(groups[user], await gateway.GroupOfAsync(user));
        Assert.Equal(1, (await gateway.KeyStatsAsync(served[1])).GetProperty("spills_in").GetInt64());
        _time.Advance(TimeSpan.FromSeconds(1));
        await gateway.ChatAsync(user);
        Assert.Equal(groups[user], gateway.GroupsThatServed(user)[2]); // back home
    }

    [Fact]
    public async Task KeyRevokedMidRun_NoClientError_ShowsRevoked_UsersReturnWhenReenabled()
    {
        await using var gateway = await StartAsync(keys: 4, rpm: 6000);
        var groups = await UsersPerGroupAsync(gateway, 8);
        var victims = groups.Where(g => g.Value == 2).Select(g => g.Key).ToArray();
        gateway.Emulator.Faults.Revoke(gateway.Keys[1]);

        foreach (var user in groups.Keys)
        {
            Assert.Equal(200, (await gateway.ChatAsync(user)).Status);
            Assert.Equal(200, (await gateway.ChatAsync(user, stream: true)).Status);
        }

        var stats = await gateway.KeyStatsAsync(2);
        Assert.Equal("revoked", stats.GetProperty("state").GetString());
        var health = (await gateway.HealthAsync()).GetProperty("health");
        Assert.NotEqual("EXCELLENT", health.GetProperty("status").GetString());
        Assert.Contains("revoked: 2", health.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Single(gateway.Logs.GetSnapshot(), r => r.Level == Microsoft.Extensions.Logging.LogLevel.Error && r.Message.Contains("group 2", StringComparison.Ordinal));

        gateway.Emulator.Faults.Restore(gateway.Keys[1]);
        await gateway.App.Services.GetRequiredService<RevokedKeyProbe>().ProbeAsync(CancellationToken.None);
        _time.Advance(TimeSpan.FromSeconds(1));
        foreach (var user in victims)
        {
            Assert.Equal(200, (await gateway.ChatAsync(user)).Status);
            Assert.Equal(2, gateway.GroupsThatServed(user)[^1]);
        }
        Assert.Equal("active", (await gateway.KeyStatsAsync(2)).GetProperty("state").GetString());
    }

    [Fact]
    public async Task CreditsExhausted_TakesTheKeyOut_NotRetriedOnIt()
    {
        await using var gateway = await StartAsync(keys: 3, rpm: 6000);
        var groups = await UsersPerGroupAsync(gateway, 3);
        var user = groups.Single(g => g.Value == 1).Key;
        gateway.Emulator.Faults.ExhaustCredits(gateway.Keys[0]);

        Assert.Equal(200, (await gateway.ChatAsync(user)).Status);
        Assert.Equal(200, (await gateway.ChatAsync(user)).Status);

        Assert.Single(gateway.ChatServed, s => s.Key == gateway.Keys[0]); // asked once, then out
        var stats = await gateway.KeyStatsAsync(1);
        Assert.Equal("revoked", stats.GetProperty("state").GetString());
        Assert.Contains("credits", stats.GetProperty("state_reason").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task TwoKeysOfOneTeam_GetOneBudget()
    {
        await using var gateway = await StartAsync(keys: 2, rpm: 60, settings: new() { ["KeyPool:Budgets:BurstSeconds"] = "1" }, emulator: options =>
        {
            options.Teams[GatewayHarness.KeyFor(1)] = "team-shared";
            options.Teams[GatewayHarness.KeyFor(2)] = "team-shared";
        });
        var groups = await UsersPerGroupAsync(gateway, 2);

        var results = new List<int>();
        foreach (var user in groups.Keys)
        {
            results.Add((await gateway.ChatAsync(user)).Status);
        }

        Assert.Equal([200, 429], results); // one request per second for the team, not one per key
        Assert.DoesNotContain(gateway.ChatServed, s => s.Status == 429);
        var health = await gateway.HealthAsync();
        Assert.Contains("keys 1 and 2 share team team-shared: they add no capacity", health.GetProperty("health").GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(30_000, health.GetProperty("health").GetProperty("estimatedCapacity").GetProperty("dailyUsers").GetInt64());
    }

    [Fact]
    public async Task DeclaredTeam_InConfiguration_SharesTheBudgetToo()
    {
        await using var gateway = await StartAsync(keys: 3, rpm: 60, settings: new()
        {
            ["KeyPool:Keys:Groups:1:Team"] = "ops",
            ["KeyPool:Keys:Groups:3:Team"] = "ops",
            ["KeyPool:Keys:CheckOnStart"] = "false",
        });

        var health = await gateway.HealthAsync();

        Assert.Contains("keys 1 and 3 share team ops", health.GetProperty("health").GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal("ops", (await gateway.KeyStatsAsync(3)).GetProperty("team").GetString());
    }

    [Fact]
    public async Task ServerErrors_OpenTheBreaker_ItRecoversAfterAProbe()
    {
        await using var gateway = await StartAsync(keys: 2, rpm: 6000, settings: new()
        {
            ["KeyPool:Health:BreakerFailures"] = "2",
            ["KeyPool:Health:BreakerOpenFor"] = "00:00:30",
        });
        var groups = await UsersPerGroupAsync(gateway, 2);
        var user = groups.Single(g => g.Value == 1).Key;
        gateway.Emulator.Faults.FailNextForKey(gateway.Keys[0], 2, 500);

        // Each failure is retried on key 2, so the client never sees it.
        Assert.Equal(200, (await gateway.ChatAsync(user)).Status);
        Assert.Equal(200, (await gateway.ChatAsync(user)).Status);
        Assert.Equal("cooling", (await gateway.KeyStatsAsync(1)).GetProperty("state").GetString());
        Assert.Equal(200, (await gateway.ChatAsync(user)).Status);
        Assert.Equal(2, gateway.GroupsThatServed(user)[^1]); // the open circuit is not even tried

        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(200, (await gateway.ChatAsync(user)).Status); // the probe succeeds
        Assert.Equal(1, gateway.GroupsThatServed(user)[^1]);
        Assert.Equal("active", (await gateway.KeyStatsAsync(1)).GetProperty("state").GetString());
    }

    [Fact]
    public async Task FailureBeforeTheFirstByte_OfAStream_IsRetried_ExactlyOneStreamReachesTheClient()
    {
        await using var gateway = await StartAsync(keys: 2, rpm: 6000);
        var groups = await UsersPerGroupAsync(gateway, 2);
        var user = groups.Single(g => g.Value == 1).Key;
        gateway.Emulator.Faults.FailNextForKey(gateway.Keys[0], 1, 503);

        var (status, _, body) = await gateway.ChatAsync(user, stream: true);

        Assert.Equal(200, status);
        Assert.Equal(1, body.Split("data: [DONE]").Length - 1);
        Assert.DoesNotContain("\"error\"", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task FailureAfterTheStreamStarted_IsNeverRetried()
    {
        await using var gateway = await StartAsync(keys: 2, rpm: 6000);
        var groups = await UsersPerGroupAsync(gateway, 2);
        var user = groups.Single(g => g.Value == 1).Key;
        gateway.Emulator.Faults.ResetMidStreamAfterChunks = 2;

        var (status, _, body) = await gateway.ChatAsync(user, stream: true);

        Assert.Equal(200, status);
        Assert.Contains("data: {\"error\":", body, StringComparison.Ordinal);
        Assert.Single(gateway.ChatServed, s => s.User == user || s.ConversationId == global::KeyPool.Proxy.ConversationId.For(user));
    }

    [Fact]
    public async Task UpstreamSaysLessRemaining_ThanCountedLocally_TheLocalViewFollows()
    {
        // Something else spends the key: the upstream allows 3 a minute, KeyPool thinks 600.
        await using var gateway = await StartAsync(keys: 1, rpm: 600, emulator: options => options.RequestsPerMinute = 3);
        var groups = await UsersPerGroupAsync(gateway, 1);
        var user = groups.Keys.Single();

        var statuses = new List<int>();
        for (var i = 0; i < 4; i++)
        {
            statuses.Add((await gateway.ChatAsync(user)).Status);
            _time.Advance(TimeSpan.FromSeconds(1));
        }

        Assert.Equal([200, 200, 200, 429], statuses);
        Assert.DoesNotContain(gateway.ChatServed, s => s.Status == 429); // KeyPool refused the 4th itself
    }
}
