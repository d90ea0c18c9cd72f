using System.Globalization;
using System.Text.Json;
using KeyPool.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace KeyPool.Tests.Capacity;

/// <summary>
/// Issue 12's figures on the real gateway and emulator, one fake clock for both: goodput at 3× capacity,
/// Retry-After kept as a promise, stickiness at half capacity, bursts that stay sticky, a finer upstream
/// window learned from its 429s, and sign-ups that avoid revoked keys.
/// </summary>
public sealed class SaturationTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 28, 12, 0, 0, TimeSpan.Zero));

    private Task<GatewayHarness> StartAsync(int keys, int rpm, Dictionary<string, string?>? settings = null, Action<KeyPool.Emulator.EmulatorOptions>? emulator = null)
    {
        var all = new Dictionary<string, string?>
        {
            ["KeyPool:Budgets:RequestsPerMinute"] = rpm.ToString(CultureInfo.InvariantCulture),
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

    private static async Task RegisterAsync(GatewayHarness gateway, int count)
    {
        for (var i = 0; i < count; i++)
        {
            using var _ = await gateway.Http.SendAsync(gateway.Admin(HttpMethod.Post, "/api/admin/users", new { id = $"user-{i}" }));
        }
    }

    [Fact]
    public async Task ThreeTimesCapacity_TwoMinutes_ServesTheBudget_No429Upstream_RetriesWhenToldAreServed()
    {
        const int keys = 4, rpm = 60, users = 40, offeredPerSecond = 3 * keys * rpm / 60, seconds = 120;
        await using var gateway = await StartAsync(keys, rpm);
        await RegisterAsync(gateway, users);
        var retries = new List<(int Second, string User)>();
        int servedInTime = 0, retried = 0, retriedServed = 0, next = 0;
        JsonElement? healthAtTwoMinutes = null;

        for (var t = 0; t < 2 * RetryLimitSeconds && (t < seconds || retries.Any(r => r.Second >= t)); t++)
        {
            var due = retries.Where(r => r.Second == t).Select(r => (r.User, Retry: true));
            var fresh = t < seconds ? Enumerable.Range(0, offeredPerSecond).Select(_ => ($"user-{next++ % users}", Retry: false)) : [];
            var batch = due.Concat(fresh).ToArray();
            // One after the other within the (fake) second: sent at once, their order at the router would vary from
            // run to run, and with it who is refused and, through fair share, who holds a promised slot.
            var answers = new List<(int Status, string? RetryAfter, string Body)>(batch.Length);
            foreach (var (user, _) in batch)
            {
                answers.Add(await gateway.ChatAsync(user));
            }
            for (var i = 0; i < batch.Length; i++)
            {
                var (status, retryAfter, _) = answers[i];
                servedInTime += status == 200 && t < seconds ? 1 : 0;
                if (batch[i].Retry)
                {
                    retried++;
                    retriedServed += status == 200 ? 1 : 0;
                }
                else if (status == 429)
                {
                    Assert.True(int.TryParse(retryAfter, out var wait) && wait is >= 1 and <= RetryLimitSeconds, $"Retry-After '{retryAfter}'");
                    retries.Add((t + wait, batch[i].Item1));
                }
            }
            _time.Advance(TimeSpan.FromSeconds(1));
            if (t == seconds - 1)
            {
                healthAtTwoMinutes = await gateway.HealthAsync();
            }
        }

        var budget = keys * rpm * seconds / 60;
        output.WriteLine($"served {servedInTime} of {budget} ({100.0 * servedInTime / budget:F1}%), retries served {retriedServed} of {retried} ({100.0 * retriedServed / retried:F1}%), upstream 429s {gateway.ChatServed.Count(s => s.Status == 429)}, longest Retry-After {retries.Max(r => r.Second) - seconds} s after the load ended");
        Assert.True(servedInTime >= 0.98 * budget, $"served {servedInTime} of a budget of {budget}");
        Assert.DoesNotContain(gateway.ChatServed, s => s.Status == 429); // the upstream never had to say no
        Assert.True(retried >= 500, $"only {retried} retries");
        Assert.True(retriedServed >= 0.9 * retried, $"{retriedServed} of {retried} retries served on their next try");
        var pool = healthAtTwoMinutes!.Value.GetProperty("pool");
        Assert.True(pool.GetProperty("goodput_ratio").GetDouble() >= 0.98, pool.ToString());
        Assert.False(healthAtTwoMinutes.Value.GetProperty("measured").GetProperty("enough").GetBoolean()); // two minutes: too little to say
        var measured = (await gateway.HealthAsync()).GetProperty("measured"); // the retries went on for minutes
        Assert.True(measured.GetProperty("enough").GetBoolean(), measured.ToString());
        Assert.Equal("RPM", measured.GetProperty("bindingLimit").GetString());
        Assert.True(measured.GetProperty("usersCarried").GetInt64() > 0, measured.ToString());
    }

    private const int RetryLimitSeconds = 600;

    [Fact]
    public async Task HalfCapacity_TwoMinutes_AtLeast99PercentStayOnTheUsersOwnKey()
    {
        const int keys = 4, rpm = 60, users = 40;
        await using var gateway = await StartAsync(keys, rpm);
        await RegisterAsync(gateway, users);
        var random = new Random(12);
        var sent = new List<string>();

        for (var t = 0; t < 120; t++)
        {
            var batch = Enumerable.Range(0, keys * rpm / 60 / 2).Select(_ => $"user-{random.Next(users)}").ToArray();
            var answers = await Task.WhenAll(batch.Select(u => gateway.ChatAsync(u)));
            Assert.All(answers, a => Assert.Equal(200, a.Status));
            sent.AddRange(batch);
            _time.Advance(TimeSpan.FromSeconds(1));
        }

        var sticky = 0;
        foreach (var user in sent.Distinct())
        {
            var own = await gateway.GroupOfAsync(user);
            sticky += gateway.GroupsThatServed(user).Count(g => g == own);
        }
        output.WriteLine($"sticky {sticky} of {sent.Count} ({100.0 * sticky / sent.Count:F2}%)");
        Assert.True(sticky >= 0.99 * sent.Count, $"{sticky} of {sent.Count} on the user's own key");
        var pool = (await gateway.HealthAsync()).GetProperty("pool");
        Assert.True(pool.GetProperty("sticky_ratio").GetDouble() >= 0.99, pool.ToString());
        Assert.Equal(1.0, pool.GetProperty("goodput_ratio").GetDouble());
        var metrics = await gateway.Http.GetStringAsync("/metrics");
        Assert.Contains("keypool_sticky_ratio 1", metrics, StringComparison.Ordinal);
        Assert.Contains("keypool_goodput_ratio 1", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LightLoad_Rpm30_TwoRequestsInOneSecond_StayOnTheUsersKey()
    {
        await using var gateway = await StartAsync(keys: 4, rpm: 30);
        await RegisterAsync(gateway, 4);
        var own = await gateway.GroupOfAsync("user-0");

        for (var pair = 0; pair < 4; pair++)
        {
            Assert.Equal(200, (await gateway.ChatAsync("user-0")).Status);
            Assert.Equal(200, (await gateway.ChatAsync("user-0")).Status);
            _time.Advance(TimeSpan.FromSeconds(10));
        }

        Assert.Equal(Enumerable.Repeat(own, 8), gateway.GroupsThatServed("user-0"));
    }

    [Fact]
    public async Task UpstreamWithAFinerWindow_429WithRoomLeft_TightensTheTeamsBurst_AndSaysSo()
    {
        await using var gateway = await StartAsync(keys: 2, rpm: 480, emulator: options => options.RequestsPerSecond = 2);
        await RegisterAsync(gateway, 2);
        var upstream429 = new List<int>();

        for (var t = 0; t < 40; t++)
        {
            for (var i = 0; i < 3; i++)
            {
                await gateway.ChatAsync("user-0");
            }
            upstream429.Add(gateway.ChatServed.Count(s => s.Status == 429));
            _time.Advance(TimeSpan.FromSeconds(1));
        }

        Assert.Contains(gateway.LogLines, l => l.Contains("finer window", StringComparison.Ordinal) && !l.Contains("xai-", StringComparison.Ordinal));
        var notes = (await gateway.HealthAsync()).GetProperty("pool").GetProperty("quality").GetProperty("burstNotes");
        Assert.Contains(notes.EnumerateArray(), n => n.GetString()!.Contains("burst 80 →", StringComparison.Ordinal));
        Assert.Equal(upstream429[^11], upstream429[^1]); // learned: the last ten seconds brought no upstream 429
    }

    [Fact]
    public async Task SignUps_GoToKeysNotRevoked_LeastLoadedFirst()
    {
        await using var gateway = await StartAsync(keys: 3, rpm: 6000);
        await RegisterAsync(gateway, 3); // groups 1, 2, 3
        var onTwo = Enumerable.Range(0, 3).Select(i => $"user-{i}").Single(u => gateway.GroupOfAsync(u).Result == 2);
        gateway.Emulator.Faults.Revoke(gateway.Keys[1]);
        Assert.Equal(200, (await gateway.ChatAsync(onTwo)).Status); // served elsewhere; key 2 is now known revoked
        Assert.Equal("revoked", (await gateway.KeyStatsAsync(2)).GetProperty("state").GetString());

        var groups = new List<int>();
        for (var i = 0; i < 6; i++)
        {
            using var _ = await gateway.Http.SendAsync(gateway.Admin(HttpMethod.Post, "/api/admin/users", new { id = $"new-{i}" }));
            groups.Add(await gateway.GroupOfAsync($"new-{i}"));
            Assert.Equal(200, (await gateway.ChatAsync($"auto-{i}")).Status); // auto-registered at the first request
            groups.Add(await gateway.GroupOfAsync($"auto-{i}"));
        }

        Assert.DoesNotContain(2, groups);
        Assert.Equal(6, groups.Count(g => g == 1));
        Assert.Equal(6, groups.Count(g => g == 3));
    }
}
