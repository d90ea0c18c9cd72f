using System.Diagnostics;
using KeyPool.Core.Budgets;
using KeyPool.Tests.Infrastructure;
using KeyPool.Tests.Keys;
using Xunit.Abstractions;

namespace KeyPool.Tests.Fairness;

/// <summary>
/// Fair share with clients as they really come, in real time over HTTP against the emulator: one key at 60 RPM, one
/// heavy user sending 5 requests a second who ignores <c>Retry-After</c>, ten light users sending one request each
/// every 20 s, from when the heavy user has had the key alone for 10 s. The light users get their requests, the heavy
/// user what is left, the key's budget is spent, and the upstream never answers 429. Bounded to about a minute; the margins hold on a loaded machine (the heavy user asks
/// five times the key's rate, so a late send of theirs costs nothing). It runs alone in the test process: another
/// test's load there delays this one's requests by seconds, which no client of a real gateway would share.
/// </summary>
[Collection(RunsAlone.Name)]
public sealed class RealClientsFairShareTests(ITestOutputHelper output)
{
    private const string Heavy = "heavy";
    private const int LightUsers = 10;
    private const int Rpm = 60;
    private static readonly TimeSpan Duration = TimeSpan.FromSeconds(70);
    private static readonly TimeSpan LightsFrom = TimeSpan.FromSeconds(10.5);

    /// <summary>What the key carries in <paramref name="span"/> from idle for one user asking five times a second.</summary>
    private static int Capacity(TimeSpan span)
    {
        var window = new RateWindow(new BudgetLimits(Rpm, 10_000_000));
        var admitted = 0;
        for (var ms = 0L; ms < span.TotalMilliseconds; ms += 200)
        {
            admitted += window.TryAcquire(ms / 1000, 100) ? 1 : 0;
        }
        return admitted;
    }

    [Fact]
    public async Task HeavyUserIgnoringRetryAfter_TenLightUsers_LightUsersServed_KeySpent_No429Upstream()
    {
        await using var gateway = await GatewayHarness.StartAsync(1, new Dictionary<string, string?>
        {
            ["KeyPool:Budgets:RequestsPerMinute"] = $"{Rpm}",
        }, options => options.RequestsPerMinute = Rpm);
        // One request first, so the first ones of the test are not slowed by the gateway's and the emulator's start
        // (a request admitted in one second that reaches the upstream more than a second later is counted by it longer).
        Assert.Equal(200, (await gateway.ChatAsync("warm-up")).Status);
        var clock = Stopwatch.StartNew();
        var heavy = new List<(TimeSpan At, Task<(int Status, string? RetryAfter, string Body)> Answer)>();
        var heavyLoop = Task.Run(async () =>
        {
            // Five a second, whatever the answers say: each request is sent on time, not after the previous one's answer.
            for (var i = 0; clock.Elapsed < Duration; i++)
            {
                lock (heavy)
                {
                    heavy.Add((clock.Elapsed, gateway.ChatAsync(Heavy)));
                }
                var next = TimeSpan.FromMilliseconds(200 * (i + 1)) - clock.Elapsed;
                if (next > TimeSpan.Zero)
                {
                    await Task.Delay(next);
                }
            }
        });
        var lights = Enumerable.Range(0, LightUsers).Select(i => Task.Run(async () =>
        {
            var answers = new List<(int Status, string? RetryAfter, string Body)>();
            // The heavy user has had the key to themselves for 10 s (refused, they kept asking); then the light users
            // come, staggered over 20 s, each one request every 20 s: three each.
            for (var at = LightsFrom + TimeSpan.FromSeconds(2 * i); at < Duration; at += TimeSpan.FromSeconds(20))
            {
                var wait = at - clock.Elapsed;
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait);
                }
                answers.Add(await gateway.ChatAsync($"light-{i}"));
            }
            return answers;
        })).ToArray();

        await heavyLoop;
        var lightAnswers = await Task.WhenAll(lights);
        var heavyAnswers = await Task.WhenAll(heavy.Select(h => h.Answer));
        var elapsed = clock.Elapsed;

        var upstream = gateway.ChatServed;
        var served = upstream.Count(s => s.Status == 200);
        var heavyServed = heavyAnswers.Count(a => a.Status == 200);
        var lightServed = lightAnswers.Sum(a => a.Count(x => x.Status == 200));
        var lightAsked = lightAnswers.Sum(a => a.Count);
        var budget = Capacity(Duration) - 1; // the warm-up took one
        output.WriteLine($"{elapsed.TotalSeconds:F1} s: light users {lightServed}/{lightAsked}, heavy {heavyServed}/{heavyAnswers.Length}, " +
            $"upstream served {served} of a budget of {budget}, upstream 429s {upstream.Count(s => s.Status == 429)}");
        // Where the heavy user's share went, by ten seconds (alone for the first ten): a shortfall shows when it happened.
        output.WriteLine("heavy served per 10 s: " + string.Join(" ", heavy.GroupBy(h => (int)(h.At.TotalSeconds / 10))
            .Select(g => $"{g.Count(h => h.Answer.Result.Status == 200)}/{g.Count()}")));
        foreach (var refused in upstream.Where(s => s.Status != 200))
        {
            output.WriteLine($"upstream {refused.Status} {refused.Reason} at {refused.At:HH:mm:ss.fff} for {refused.User}");
        }
        foreach (var refusal in lightAnswers.SelectMany(a => a).Where(a => a.Status != 200).Take(3))
        {
            output.WriteLine($"light refusal {refusal.Status} (Retry-After {refusal.RetryAfter}): {refusal.Body}");
        }

        Assert.DoesNotContain(upstream, s => s.Status == 429);
        Assert.All(heavyAnswers.Concat(lightAnswers.SelectMany(a => a)), a => Assert.Contains(a.Status, new[] { 200, 429 }));
        Assert.All(Enumerable.Range(0, LightUsers), i =>
            Assert.True(lightAnswers[i].Count(a => a.Status == 200) >= 0.9 * lightAnswers[i].Count, $"light-{i} got {lightAnswers[i].Count(a => a.Status == 200)} of {lightAnswers[i].Count}"));
        Assert.True(served >= 0.95 * budget, $"the key served {served} of a budget of {budget}");
        Assert.Equal(served, heavyServed + lightServed + 1);
        Assert.True(heavyServed >= (0.95 * budget) - lightAsked, $"heavy got {heavyServed}"); // what the light users left
        Assert.True(heavyServed < heavyAnswers.Length);
    }
}
