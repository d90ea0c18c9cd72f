using KeyPool.Core.Limits;
using KeyPool.Core.Money;
using Microsoft.Extensions.Time.Testing;

namespace KeyPool.Core.Tests.Limits;

public sealed class SpendLimiterTests
{
    private const long Usd = UsdTicks.PerUsd;

    // 22:00 UTC on the last day of a month: two hours to the day's end and the month's.
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 30, 22, 0, 0, TimeSpan.Zero));

    [Fact]
    public void NoLimit_HoldsNothing()
    {
        var limiter = new SpendLimiter(100, _time);

        Assert.True(limiter.TryAcquire("u", default, Usd).Admitted);
        Assert.Equal(0, limiter.Count);
    }

    [Fact]
    public void DayLimit_ReservesTheEstimate_SettlesTheRealCost_ThenRefusesUntilMidnight()
    {
        var limiter = new SpendLimiter(100, _time);
        var limits = SpendLimits.FromUsd(perDay: 1m, perMonth: null);

        var first = limiter.TryAcquire("u", limits, Usd / 2);
        Assert.True(first.Admitted);
        Assert.False(limiter.TryAcquire("u", limits, Usd * 6 / 10).Admitted); // 0.5 reserved + 0.6 > 1
        first.Reservation!.Settle(Usd / 10);                                   // it really cost 0.1
        var second = limiter.TryAcquire("u", limits, Usd * 6 / 10);
        Assert.True(second.Admitted);
        second.Reservation!.Settle(Usd);                                      // 1.1 spent: over

        var refused = limiter.TryAcquire("u", limits, 0);
        Assert.Equal(("day", Usd, 7200), (refused.Exceeded, refused.LimitTicks, refused.RetryAfterSeconds));
        Assert.True(limiter.TryAcquire("other", limits, Usd / 2).Admitted);   // per user

        _time.Advance(TimeSpan.FromHours(2));
        Assert.True(limiter.TryAcquire("u", limits, Usd / 2).Admitted);
        Assert.Equal(2, limiter.Refused);
    }

    [Fact]
    public void MonthLimit_CountsEveryDay_RefusesUntilTheMonthsEnd()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 27, 12, 0, 0, TimeSpan.Zero));
        var limiter = new SpendLimiter(100, time);
        var limits = SpendLimits.FromUsd(perDay: 10m, perMonth: 3m);
        for (var day = 0; day < 3; day++)
        {
            limiter.TryAcquire("u", limits, Usd).Reservation!.Settle(Usd);
            time.Advance(TimeSpan.FromDays(1));
        }

        var refused = limiter.TryAcquire("u", limits, 1);

        Assert.Equal("month", refused.Exceeded);
        Assert.Equal((int)TimeSpan.FromHours(12).TotalSeconds, refused.RetryAfterSeconds); // Dec 1 00:00 from Nov 30 12:00
        time.Advance(TimeSpan.FromHours(12));
        Assert.True(limiter.TryAcquire("u", limits, 1).Admitted);
    }

    [Fact]
    public void Instances_EachEnforcesItsShare()
    {
        var limiter = new SpendLimiter(100, _time);
        var limits = SpendLimits.FromUsd(perDay: 1m, perMonth: null);

        Assert.True(limiter.TryAcquire("u", limits, Usd / 4, instances: 2).Admitted);
        Assert.False(limiter.TryAcquire("u", limits, Usd / 3, instances: 2).Admitted); // 0.25 + 0.33 > 0.5
    }

    [Fact]
    public void AnswerAfterMidnight_BelongsToTheDayItBegan()
    {
        var limiter = new SpendLimiter(100, _time);
        var limits = SpendLimits.FromUsd(perDay: 1m, perMonth: 100m);
        var late = limiter.TryAcquire("u", limits, Usd / 10).Reservation!;

        _time.Advance(TimeSpan.FromHours(3));
        Assert.True(limiter.TryAcquire("u", limits, 0).Admitted); // the new day and month start empty
        late.Settle(5 * Usd);
        late.Settle(5 * Usd); // once only

        Assert.True(limiter.TryAcquire("u", limits, Usd / 2).Admitted);
    }

    [Fact]
    public async Task Seed_AddsTheStoredSpendOfTheDayAndMonth()
    {
        var seeded = new TaskCompletionSource();
        var limiter = new SpendLimiter(100, _time, async (user, day, ct) =>
        {
            await Task.Yield();
            Assert.Equal(new DateOnly(2026, 11, 30), day);
            seeded.SetResult();
            return (Usd, 2 * Usd);
        });
        var limits = SpendLimits.FromUsd(perDay: 1.5m, perMonth: 2.5m);

        Assert.True(limiter.TryAcquire("u", limits, 0).Admitted); // counted from memory until the seed arrives
        await seeded.Task.WaitAsync(TimeSpan.FromSeconds(30));
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (limiter.TryAcquire("u", limits, Usd * 6 / 10) is { Admitted: true } admitted && DateTime.UtcNow < deadline)
        {
            admitted.Reservation!.Settle(0); // the seed lands under the counter's lock a moment later
            await Task.Delay(10);
        }

        Assert.Equal("month", limiter.TryAcquire("u", limits, Usd * 6 / 10).Exceeded); // 2 + 0.6 > 2.5
    }

    [Fact]
    public void EstimateAboveTheWholeLimit_PassesWhileNothingIsSpent()
    {
        var limiter = new SpendLimiter(100, _time);
        var limits = SpendLimits.FromUsd(perDay: 1m, perMonth: null);

        var big = limiter.TryAcquire("u", limits, 3 * Usd);
        Assert.True(big.Admitted);
        Assert.False(limiter.TryAcquire("u", limits, 1).Admitted);
        big.Reservation!.Settle(Usd / 10);
        Assert.False(limiter.TryAcquire("u", limits, 3 * Usd).Admitted); // something is spent now
        Assert.True(limiter.TryAcquire("u", limits, Usd / 2).Admitted);
    }

    [Fact]
    public void Counters_AreBounded()
    {
        var limiter = new SpendLimiter(100, _time);
        var limits = SpendLimits.FromUsd(perDay: 1m, perMonth: null);

        for (var i = 0; i < 1_000; i++)
        {
            limiter.TryAcquire($"user-{i}", limits, 1);
        }

        Assert.InRange(limiter.Count, 1, 100);
    }

    [Fact]
    public void CostRates_LearnEachModelsAverage()
    {
        var rates = new CostRates();
        Assert.Null(rates.Estimate("m", 100));

        rates.Observe("m", 1_000, 2_000_000);
        rates.Observe("m", 1_000, 2_000_000);

        Assert.Equal(200_000, rates.Estimate("m", 100));
        Assert.Null(rates.Estimate("other", 100));
    }
}
