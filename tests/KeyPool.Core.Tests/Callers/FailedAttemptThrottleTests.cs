using KeyPool.Core.Callers;
using Microsoft.Extensions.Time.Testing;

namespace KeyPool.Core.Tests.Callers;

public sealed class FailedAttemptThrottleTests
{
    private readonly FakeTimeProvider _time = new();

    private FailedAttemptThrottle Create(int capacity = 100) =>
        new(freeFailures: 5, window: TimeSpan.FromMinutes(15), maxDelay: TimeSpan.FromSeconds(30), capacity, _time);

    [Fact]
    public void RecordFailure_FirstFive_AreFree()
    {
        var throttle = Create();

        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(TimeSpan.Zero, throttle.RecordFailure("10.0.0.1"));
        }

        Assert.Equal(TimeSpan.Zero, throttle.RetryAfter("10.0.0.1"));
    }

    [Fact]
    public void RecordFailure_BeyondFree_DoublesFromOneSecond_CappedAtThirty()
    {
        var throttle = Create();
        for (var i = 0; i < 5; i++)
        {
            throttle.RecordFailure("10.0.0.1");
        }

        var delays = new List<double>();
        for (var i = 0; i < 8; i++)
        {
            var delay = throttle.RecordFailure("10.0.0.1");
            delays.Add(delay.TotalSeconds);
            Assert.Equal(delay, throttle.RetryAfter("10.0.0.1"));
            _time.Advance(delay);
            Assert.Equal(TimeSpan.Zero, throttle.RetryAfter("10.0.0.1"));
        }

        Assert.Equal([1, 2, 4, 8, 16, 30, 30, 30], delays);
    }

    [Fact]
    public void RetryAfter_CountsDownWithTheClock()
    {
        var throttle = Create();
        for (var i = 0; i < 7; i++)
        {
            throttle.RecordFailure("10.0.0.1");
        }

        _time.Advance(TimeSpan.FromSeconds(1.5));

        Assert.Equal(TimeSpan.FromSeconds(0.5), throttle.RetryAfter("10.0.0.1"));
        Assert.Equal(TimeSpan.Zero, throttle.RetryAfter("10.0.0.2")); // other addresses are not slowed
    }

    [Fact]
    public void RecordFailure_AfterTheWindow_StartsCountingAgain()
    {
        var throttle = Create();
        for (var i = 0; i < 6; i++)
        {
            throttle.RecordFailure("10.0.0.1");
        }

        _time.Advance(TimeSpan.FromMinutes(16));

        Assert.Equal(TimeSpan.Zero, throttle.RecordFailure("10.0.0.1"));
    }

    [Fact]
    public void RecordFailure_ManySources_HoldsAtMostCapacity_ForgettingTheLeastRecent()
    {
        var throttle = Create(capacity: 100);
        for (var i = 0; i < 6; i++)
        {
            throttle.RecordFailure("attacker");
        }

        for (var i = 0; i < 10_000; i++)
        {
            throttle.RecordFailure($"10.1.{i / 256}.{i % 256}");
        }

        Assert.Equal(100, throttle.Count);
        Assert.Equal(TimeSpan.Zero, throttle.RetryAfter("attacker")); // evicted: bounded memory is the price
        Assert.True(throttle.RetryAfter("10.1.39.15") == TimeSpan.Zero); // free failures only
    }
}
