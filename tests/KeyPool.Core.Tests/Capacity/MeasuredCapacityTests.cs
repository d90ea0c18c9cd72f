using KeyPool.Core.Budgets;
using KeyPool.Core.Capacity;
using KeyPool.Core.KeyHealth;
using KeyPool.Core.Keys;
using KeyPool.Core.Routing;
using Microsoft.Extensions.Time.Testing;

namespace KeyPool.Core.Tests.Capacity;

public sealed class MeasuredCapacityTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 28, 12, 0, 0, TimeSpan.Zero));

    private KeyPoolRouter Router(int keys, int rpm = 600, long tpm = 1_000_000)
    {
        var routing = new RoutingOptions { MaxQueueWait = TimeSpan.Zero };
        var ring = new KeyRing(Enumerable.Range(1, keys).Select(g => new UpstreamKey(g, $"xai-test-key-{g:D8}")));
        return new KeyPoolRouter(ring, KeySelectionPolicies.Create("StickyWithSpillover", routing, new Random(5))!, routing,
            new BudgetOptions { RequestsPerMinute = rpm, TokensPerMinute = tpm }, new KeyHealthOptions(), new Dictionary<int, GroupSettings>(), _time);
    }

    /// <summary><paramref name="users"/> users each sending <paramref name="perUser"/> requests a minute of <paramref name="tokens"/> tokens, for <paramref name="minutes"/>.</summary>
    private void Drive(KeyPoolRouter router, int minutes, int users, int perUser, long tokens)
    {
        for (var m = 0; m < minutes; m++)
        {
            for (var s = 0; s < 60; s++)
            {
                for (var i = 0; i < users * perUser; i++)
                {
                    if (i * 60 / (users * perUser) == s) // the minute's requests spread evenly over its seconds
                    {
                        var u = i % users;
                        router.TryAdmit((u % router.Pool.Members.Count) + 1, 0, tokens, 0, $"user-{u}")?.Settle(tokens);
                    }
                }
                _time.Advance(TimeSpan.FromSeconds(1));
            }
        }
    }

    [Fact]
    public void TooLittleTraffic_SaysSo_NoFigures()
    {
        var router = Router(keys: 2);
        Drive(router, minutes: 2, users: 10, perUser: 1, tokens: 100);

        var measured = MeasuredCapacity.Of(router.Demand, router.Pool, router.Second);

        Assert.False(measured.Enough);
        Assert.Contains("Too little traffic", measured.Note, StringComparison.Ordinal);
        Assert.Null(measured.UsersCarried);
    }

    [Fact]
    public void RequestBound_Demand_UsersCarriedFromTheRpm()
    {
        var router = Router(keys: 2, rpm: 600, tpm: 100_000_000);
        Drive(router, minutes: 6, users: 50, perUser: 2, tokens: 100);

        var measured = MeasuredCapacity.Of(router.Demand, router.Pool, router.Second, targetUsers: 3_000);

        Assert.True(measured.Enough, measured.Note);
        // Users are counted by a sketch over string hashes, which differ from one process to the next: 50 users read as
        // 47 to 53 (a full run saw 47, 2.128 requests per user), so the figures that divide by them are held to ±10 %.
        Assert.InRange(measured.RequestsPerUserPerMinute!.Value, 1.8, 2.2);
        Assert.InRange(measured.PeakActiveUsers!.Value, 45, 55);
        Assert.Equal(100, measured.TokensPerRequest!.Value, 0);
        Assert.Equal("RPM", measured.BindingLimit);
        Assert.InRange(measured.UsersCarried!.Value, 530, 650); // 2 × 600 × 60/61 / 2 ≈ 590, ± the sketch's error
        Assert.Equal((int)Math.Ceiling(3_000 / (measured.UsersCarriedAtPeak!.Value / 2.0)) - 2, measured.KeysToAdd);
    }

    [Fact]
    public void TokenBound_Demand_SaysTpmBinds()
    {
        var router = Router(keys: 1, rpm: 600, tpm: 200_000);
        Drive(router, minutes: 6, users: 20, perUser: 1, tokens: 5_000); // 100,000 tokens a minute

        var measured = MeasuredCapacity.Of(router.Demand, router.Pool, router.Second);

        Assert.True(measured.Enough, measured.Note);
        Assert.Equal("TPM", measured.BindingLimit);
        Assert.InRange(measured.UsersCarried!.Value, 35, 41); // 200,000 × 60/61 / 5,000 per user
    }
}
