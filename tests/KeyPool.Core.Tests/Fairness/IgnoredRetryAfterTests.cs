using KeyPool.Core.Budgets;
using KeyPool.Core.KeyHealth;
using KeyPool.Core.Keys;
using KeyPool.Core.Routing;
using Microsoft.Extensions.Time.Testing;
using Xunit.Abstractions;

namespace KeyPool.Core.Tests.Fairness;

/// <summary>
/// Clients as they really come, on a fake clock, through the router as the gateway calls it (wait up to 2 s, then a
/// refusal with its <c>Retry-After</c>): one key at 60 RPM, one heavy user sending 5 requests a second who ignores
/// <c>Retry-After</c>, ten light users sending one request each every 20 s. A refused heavy caller must not hold the
/// slots the light users need, nor keep being promised ones.
/// </summary>
public sealed class IgnoredRetryAfterTests(ITestOutputHelper output)
{
    private const string Heavy = "heavy";
    private const int LightUsers = 10;

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 28, 12, 0, 0, TimeSpan.Zero));

    private KeyPoolRouter Router()
    {
        var routing = new RoutingOptions { MaxQueueWait = TimeSpan.FromSeconds(2) };
        return new KeyPoolRouter(new KeyRing([new UpstreamKey(1, "xai-test-key-00000001")]), KeySelectionPolicies.Create("StickyWithSpillover", routing, new Random(3))!,
            routing, new BudgetOptions { RequestsPerMinute = 60, TokensPerMinute = 10_000_000 }, new KeyHealthOptions(), new Dictionary<int, GroupSettings>(), _time);
    }

    /// <summary>Plays <paramref name="seconds"/> of arrivals in 100 ms steps; a refusal asks for its <c>Retry-After</c>, as the gateway does.</summary>
    private Dictionary<string, (int Asked, int Admitted)> Play(KeyPoolRouter router, int seconds, int heavyPeriodMs, int lightsFromMs)
    {
        var start = _time.GetUtcNow();
        var pending = new List<(string User, Task<Admission?> Admission)>();
        var counts = new Dictionary<string, (int Asked, int Admitted)>();
        for (var at = 0; at <= (seconds + 3) * 1000; at += 100)
        {
            _time.SetUtcNow(start.AddMilliseconds(at));
            Collect(router, pending, counts);
            if (at >= seconds * 1000)
            {
                continue;
            }
            if (at % heavyPeriodMs == 0)
            {
                pending.Add((Heavy, router.AdmitAsync(router.Pool, 1, 0, 100, 0, Heavy, null, CancellationToken.None).AsTask()));
            }
            for (var i = 0; i < LightUsers; i++)
            {
                if (at >= lightsFromMs + (i * 2000) && (at - lightsFromMs - (i * 2000)) % 20_000 == 0)
                {
                    pending.Add(($"light-{i}", router.AdmitAsync(router.Pool, 1, 0, 100, 0, $"light-{i}", null, CancellationToken.None).AsTask()));
                }
            }
            Collect(router, pending, counts);
        }
        Assert.Empty(pending);
        return counts;
    }

    private static void Collect(KeyPoolRouter router, List<(string User, Task<Admission?> Admission)> pending, Dictionary<string, (int Asked, int Admitted)> counts)
    {
        foreach (var (user, admission) in pending.Where(p => p.Admission.IsCompleted).ToList())
        {
            pending.Remove((user, admission));
            var admitted = admission.Result is not null;
            if (!admitted)
            {
                router.RetryAfterSeconds(router.Pool, 0, user);
            }
            var (asked, got) = counts.GetValueOrDefault(user);
            counts[user] = (asked + 1, got + (admitted ? 1 : 0));
        }
    }

    [Theory]
    [InlineData(60, 200, 500)]
    [InlineData(70, 200, 10_500)]
    [InlineData(120, 200, 30_500)]
    [InlineData(60, 50, 500)]
    public void HeavyUserIgnoringRetryAfter_LightUsersGetTheirRequests_TheKeyIsSpent(int seconds, int heavyPeriodMs, int lightsFromMs)
    {
        var router = Router();

        var counts = Play(router, seconds, heavyPeriodMs, lightsFromMs);

        var lights = counts.Where(c => c.Key != Heavy).ToList();
        var heavy = counts[Heavy];
        var served = lights.Sum(c => c.Value.Admitted) + heavy.Admitted;
        // A minute's budget from an idle key: 60 in the first 61 s, then one a second.
        var budget = 60 + Math.Max(0, seconds - 61);
        output.WriteLine($"light {lights.Sum(c => c.Value.Admitted)}/{lights.Sum(c => c.Value.Asked)}, heavy {heavy.Admitted}/{heavy.Asked}, " +
            $"served {served} of {budget}, promises outstanding {router.Promises.Outstanding}, least served light {lights.Min(c => (double)c.Value.Admitted / c.Value.Asked):P0}");
        Assert.All(lights, c => Assert.True(c.Value.Admitted >= 0.9 * c.Value.Asked, $"{c.Key} got {c.Value.Admitted} of {c.Value.Asked}"));
        Assert.True(served >= 0.95 * budget, $"served {served} of {budget}");
        Assert.True(heavy.Admitted >= budget - lights.Sum(c => c.Value.Asked) - 5, $"heavy got {heavy.Admitted}");
    }
}
