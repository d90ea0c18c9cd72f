using KeyPool.Core.Limits;
using Microsoft.Extensions.Time.Testing;

namespace KeyPool.Core.Tests.Limits;

public sealed class UserLimiterTests
{
    // 2026-11-28 12:00:00 UTC: twelve hours from midnight either way.
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 28, 12, 0, 0, TimeSpan.Zero));

    private UserLimiter Limiter(int capacity = 1_000, Func<string, DateOnly, CancellationToken, Task<long>>? dailyTokens = null) =>
        new(capacity, _time, dailyTokens);

    [Fact]
    public void TryAcquire_NoLimit_HoldsNoCounter()
    {
        var limiter = Limiter();

        var decision = limiter.TryAcquire("u1", new UserLimits(), 1_000);

        Assert.True(decision.Admitted);
        Assert.Equal(0, limiter.Count);
        decision.Reservation.Settle(5); // a reservation of nothing settles to nothing
    }

    [Fact]
    public void TryAcquire_RequestsPerMinute_AMinutesWorthAtOnceThenRefillsContinuously()
    {
        var limiter = Limiter();
        var limits = new UserLimits(RequestsPerMinute: 60);

        for (var i = 0; i < 60; i++)
        {
            Assert.True(limiter.TryAcquire("u1", limits, 1).Admitted);
        }
        var refused = limiter.TryAcquire("u1", limits, 1);

        Assert.Equal(UserLimitKind.RequestsPerMinute, refused.Exceeded);
        Assert.Equal(60, refused.Limit);
        Assert.Equal(1, refused.RetryAfterSeconds);
        Assert.True(limiter.TryAcquire("u2", limits, 1).Admitted); // another user has their own
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(limiter.TryAcquire("u1", limits, 1).Admitted);
        Assert.False(limiter.TryAcquire("u1", limits, 1).Admitted);
    }

    [Fact]
    public void TryAcquire_TokensPerMinute_ReservesTheEstimateSoConcurrentRequestsCannotOvershoot()
    {
        var limiter = Limiter();
        var limits = new UserLimits(TokensPerMinute: 10_000);

        var first = limiter.TryAcquire("u1", limits, 6_000);
        var second = limiter.TryAcquire("u1", limits, 6_000); // sent before the first completed

        Assert.True(first.Admitted);
        Assert.Equal(UserLimitKind.TokensPerMinute, second.Exceeded);
        Assert.Equal(10_000, second.Limit);
        Assert.Equal(12, second.RetryAfterSeconds); // 2,000 tokens over, at 10,000 a minute
    }

    [Fact]
    public void Settle_UsageBelowTheEstimate_GivesTheDifferenceBack()
    {
        var limiter = Limiter();
        var limits = new UserLimits(TokensPerMinute: 10_000, TokensPerDay: 1_000_000);

        var first = limiter.TryAcquire("u1", limits, 9_000);
        Assert.False(limiter.TryAcquire("u1", limits, 2_000).Admitted);
        first.Reservation.Settle(1_000);

        Assert.True(limiter.TryAcquire("u1", limits, 9_000).Admitted);
    }

    [Fact]
    public void Settle_UsageAboveTheEstimate_IsOwed()
    {
        var limiter = Limiter();
        var limits = new UserLimits(TokensPerMinute: 10_000);

        limiter.TryAcquire("u1", limits, 1_000).Reservation.Settle(10_000);

        var refused = limiter.TryAcquire("u1", limits, 1_000);
        Assert.Equal(UserLimitKind.TokensPerMinute, refused.Exceeded);
        Assert.Equal(6, refused.RetryAfterSeconds);
    }

    [Fact]
    public void TryAcquire_RequestLargerThanTheMinute_PassesOnlyIntoAFullBucket()
    {
        var limiter = Limiter();
        var limits = new UserLimits(TokensPerMinute: 1_000);

        Assert.True(limiter.TryAcquire("u1", limits, 5_000).Admitted);
        var refused = limiter.TryAcquire("u1", limits, 5_000);

        Assert.Equal(UserLimitKind.TokensPerMinute, refused.Exceeded);
        Assert.Equal(300, refused.RetryAfterSeconds); // five minutes of debt
    }

    [Fact]
    public void TryAcquire_TokensPerDay_RefusedUntilUtcMidnightThenFreshAfterTheDayBoundary()
    {
        var limiter = Limiter();
        var limits = new UserLimits(TokensPerDay: 10_000);

        limiter.TryAcquire("u1", limits, 4_000).Reservation.Settle(9_000);
        var refused = limiter.TryAcquire("u1", limits, 2_000);

        Assert.Equal(UserLimitKind.TokensPerDay, refused.Exceeded);
        Assert.Equal(10_000, refused.Limit);
        Assert.Equal(12 * 3600, refused.RetryAfterSeconds);
        _time.Advance(TimeSpan.FromHours(12));
        Assert.True(limiter.TryAcquire("u1", limits, 9_000).Admitted);
    }

    [Fact]
    public void TryAcquire_SeveralInstances_EachEnforcesItsShareRoundedUp()
    {
        var limiter = Limiter();
        var limits = new UserLimits(RequestsPerMinute: 5);

        var admitted = Enumerable.Range(0, 10).Count(_ => limiter.TryAcquire("u1", limits, 1, instances: 2).Admitted);

        Assert.Equal(3, admitted);
        Assert.Equal(5, limiter.TryAcquire("u1", limits, 1, instances: 2).Limit); // the message names the configured limit
    }

    [Fact]
    public async Task TryAcquire_DayTotal_SeededFromTheStoreWhenTheReadArrives()
    {
        var stored = new TaskCompletionSource<long>();
        var reads = new List<(string User, DateOnly Day)>();
        var limiter = Limiter(dailyTokens: (user, day, _) =>
        {
            reads.Add((user, day));
            return stored.Task;
        });
        var limits = new UserLimits(TokensPerDay: 10_000);

        // The first request does not wait for the store: it goes on the in-memory count.
        Assert.True(limiter.TryAcquire("u1", limits, 1_000).Admitted);
        stored.SetResult(9_500); // what the previous process (or instance) flushed today
        await Until(() => limiter.SeedsInFlight == 0);

        Assert.Equal([("u1", new DateOnly(2026, 11, 28))], reads);
        Assert.Equal(UserLimitKind.TokensPerDay, limiter.TryAcquire("u1", limits, 1_000).Exceeded);
    }

    private static async Task Until(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "The condition did not come true in 10 s.");
            await Task.Yield();
        }
    }

    [Fact]
    public void TryAcquire_SeedReadFails_CountsFromMemoryAndRetriesAtTheNextRequest()
    {
        var attempts = 0;
        var limiter = Limiter(dailyTokens: (_, _, _) => ++attempts == 1 ? Task.FromException<long>(new TimeoutException()) : Task.FromResult(9_500L));
        var limits = new UserLimits(TokensPerDay: 10_000);

        Assert.True(limiter.TryAcquire("u1", limits, 100).Admitted);
        Assert.Equal(1, limiter.SeedFailures);
        Assert.True(limiter.TryAcquire("u1", limits, 100).Admitted); // retried, seeded now

        Assert.Equal(2, attempts);
        Assert.False(limiter.TryAcquire("u1", limits, 1_000).Admitted);
    }

    [Fact]
    public void TryAcquire_TierChange_NewLimitsApplyToTheSameCounts()
    {
        var limiter = Limiter();
        var free = new UserLimits(RequestsPerMinute: 2);
        var pro = new UserLimits(RequestsPerMinute: 4);

        Assert.True(limiter.TryAcquire("u1", free, 1).Admitted);
        Assert.True(limiter.TryAcquire("u1", free, 1).Admitted);
        Assert.False(limiter.TryAcquire("u1", free, 1).Admitted);

        Assert.True(limiter.TryAcquire("u1", pro, 1).Admitted);
        Assert.True(limiter.TryAcquire("u1", pro, 1).Admitted);
        Assert.False(limiter.TryAcquire("u1", pro, 1).Admitted);
        Assert.Equal(UserLimitKind.RequestsPerMinute, limiter.TryAcquire("u1", free, 1).Exceeded); // back down: 4 used of 2
        _time.Advance(TimeSpan.FromSeconds(61));
        Assert.False(limiter.TryAcquire("u1", free, 1).Admitted);
        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.True(limiter.TryAcquire("u1", free, 1).Admitted);
    }

    [Fact]
    public void Sweep_DropsIdleCountersOnly()
    {
        var limiter = Limiter();
        var limits = new UserLimits(RequestsPerMinute: 60);
        limiter.TryAcquire("idle", limits, 1).Reservation.Settle(1);
        _time.Advance(UserLimiter.IdleAfter);
        limiter.TryAcquire("active", limits, 1).Reservation.Settle(1);
        var inFlight = limiter.TryAcquire("streaming", limits, 1);
        _time.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal(1, limiter.Sweep());
        Assert.Equal(2, limiter.Count);
        _time.Advance(UserLimiter.IdleAfter);
        Assert.Equal(1, limiter.Sweep()); // "streaming" still holds its reservation
        inFlight.Reservation.Settle(1);
        Assert.Equal(1, limiter.Sweep());
        Assert.Equal(0, limiter.Count);
    }

    [Fact]
    public void Sweep_AboveTheCap_DropsTheLeastRecentlyActiveDownTo90Percent()
    {
        var limiter = Limiter(capacity: 100);
        var limits = new UserLimits(RequestsPerMinute: 60);
        for (var i = 0; i < 150; i++)
        {
            limiter.TryAcquire($"u{i}", limits, 1).Reservation.Settle(1);
            _time.Advance(TimeSpan.FromMilliseconds(10)); // none idle: all within two minutes
        }

        limiter.Sweep();

        Assert.Equal(90, limiter.Count);
        // The newest kept their counts; the oldest start afresh.
        Assert.False(Enumerable.Range(0, 60).Select(_ => limiter.TryAcquire("u149", limits, 1).Admitted).All(a => a));
        Assert.True(Enumerable.Range(0, 60).Select(_ => limiter.TryAcquire("u0", limits, 1).Admitted).All(a => a));
    }

    [Fact]
    public void TryAcquire_PastTheCap_DropsTheLeastRecentlyActiveAtOnce_NotThoseInFlight()
    {
        var limiter = Limiter(capacity: 10);
        var limits = new UserLimits(RequestsPerMinute: 60);
        var inFlight = limiter.TryAcquire("u0", limits, 1); // the least recently active, but its request is not answered yet
        for (var i = 1; i < 10; i++)
        {
            _time.Advance(TimeSpan.FromSeconds(1));
            limiter.TryAcquire($"u{i}", limits, 1).Reservation.Settle(1);
        }
        Assert.Equal(10, limiter.Count);

        _time.Advance(TimeSpan.FromSeconds(1));
        limiter.TryAcquire("u10", limits, 1).Reservation.Settle(1);

        // 11 > 10: down to 9 at once, no sweep needed; "u0" holds a reservation, so only "u1" of the two oldest goes.
        Assert.Equal(10, limiter.Count);
        inFlight.Reservation.Settle(1);
        Assert.Equal(1, limiter.Sweep());
        Assert.Equal(9, limiter.Count);
    }

    [Fact]
    public void Sweep_WithoutAStore_KeepsTodaysDayTotalsUntilMidnight()
    {
        var limiter = Limiter();
        var limits = new UserLimits(TokensPerDay: 10_000);
        limiter.TryAcquire("u1", limits, 9_000).Reservation.Settle(9_000);
        _time.Advance(TimeSpan.FromHours(1));

        Assert.Equal(0, limiter.Sweep());
        Assert.False(limiter.TryAcquire("u1", limits, 2_000).Admitted);
        _time.Advance(TimeSpan.FromHours(11));
        Assert.Equal(1, limiter.Sweep());
    }

    [Fact]
    public void Sweep_UserRefusedForTheDay_KeepsTheCounterUntilMidnight()
    {
        var limiter = Limiter(dailyTokens: (_, _, _) => Task.FromResult(0L));
        var limits = new UserLimits(TokensPerDay: 1_000);
        limiter.TryAcquire("spent", limits, 500).Reservation.Settle(1_000);
        limiter.TryAcquire("quiet", limits, 500).Reservation.Settle(500);
        Assert.False(limiter.TryAcquire("spent", limits, 10).Admitted);
        _time.Advance(TimeSpan.FromHours(1));

        Assert.Equal(1, limiter.Sweep()); // "quiet" will be read from the store when back; "spent" stays
        Assert.False(limiter.TryAcquire("spent", limits, 10).Admitted);
        _time.Advance(TimeSpan.FromHours(11));
        Assert.True(limiter.TryAcquire("spent", limits, 10).Admitted);
    }

    [Fact]
    public async Task TryAcquire_ManyThreads_NeverAdmitMoreThanTheLimit()
    {
        var limiter = Limiter();
        var limits = new UserLimits(RequestsPerMinute: 1_000);
        var admitted = 0;

        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() =>
        {
            for (var i = 0; i < 500; i++)
            {
                if (limiter.TryAcquire("u1", limits, 1).Admitted)
                {
                    Interlocked.Increment(ref admitted);
                }
            }
        })));

        Assert.Equal(1_000, admitted);
    }
}
