using KeyPool.Core.KeyHealth;
using Microsoft.Extensions.Time.Testing;

namespace KeyPool.Core.Tests.KeyHealth;

public sealed class KeyHealthTrackerTests
{
    private readonly FakeTimeProvider _time = new();
    private readonly KeyHealthOptions _options = new() { BreakerFailures = 3, BreakerOpenFor = TimeSpan.FromSeconds(30) };

    private KeyHealthTracker Tracker() => new(_options, _time);

    [Fact]
    public void Breaker_OpensAfterConsecutiveFailures_ProbesOnce_ClosesOnSuccess()
    {
        var health = Tracker();
        Assert.False(health.RecordFailure());
        Assert.False(health.RecordFailure());
        Assert.True(health.RecordFailure()); // opened

        Assert.False(health.TryEnter());
        Assert.Equal(KeyState.CircuitOpen, health.State);
        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.True(health.TryEnter());  // the half-open probe
        Assert.False(health.TryEnter()); // only one

        health.RecordSuccess();
        Assert.True(health.TryEnter());
        Assert.Equal(KeyState.Active, health.State);
    }

    [Fact]
    public void Breaker_FailedProbe_OpensAgain()
    {
        var health = Tracker();
        for (var i = 0; i < 3; i++)
        {
            health.RecordFailure();
        }
        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.True(health.TryEnter());

        health.RecordFailure();

        Assert.False(health.TryEnter());
        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.True(health.TryEnter());
    }

    [Fact]
    public void Breaker_AbandonedProbe_LetsAnotherProbeThrough()
    {
        var health = Tracker();
        for (var i = 0; i < 3; i++)
        {
            health.RecordFailure();
        }
        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.True(health.TryEnter());

        health.Abandon();

        Assert.True(health.TryEnter());
    }

    [Fact]
    public void Success_BetweenFailures_ResetsTheCount()
    {
        var health = Tracker();
        health.RecordFailure();
        health.RecordFailure();
        health.RecordSuccess();
        health.RecordFailure();
        health.RecordFailure();

        Assert.True(health.TryEnter());
    }

    [Fact]
    public void CoolDown_UsesTheUpstreamReset()
    {
        var health = Tracker();

        Assert.Equal(TimeSpan.FromSeconds(7), health.CoolDown(TimeSpan.FromSeconds(7)));
        Assert.False(health.TryEnter());
        _time.Advance(TimeSpan.FromSeconds(7));
        Assert.True(health.TryEnter());
    }

    [Fact]
    public void CoolDown_WithoutReset_BacksOffExponentially_UpToTheMax()
    {
        var health = Tracker();
        var waits = Enumerable.Range(0, 10).Select(_ => health.CoolDown(null)).ToArray();

        Assert.Equal([1, 2, 4, 8, 16, 32, 60, 60, 60, 60], waits.Select(w => (int)w.TotalSeconds));
        health.RecordSuccess();
        Assert.Equal(TimeSpan.FromSeconds(1), health.CoolDown(null));
    }

    [Fact]
    public void Revoke_TakesTheKeyOut_UntilReenabled_ReportedOnce()
    {
        var health = Tracker();

        Assert.True(health.Revoke("credits exhausted"));
        Assert.False(health.Revoke("credits exhausted"));
        Assert.False(health.TryEnter());
        Assert.Equal(KeyState.Revoked, health.State);
        Assert.Equal("credits exhausted", health.RevokedReason);

        health.Reenable();
        Assert.True(health.TryEnter());
        Assert.Null(health.RevokedReason);
    }

    [Fact]
    public void Apply_TakesOverRevocationCircuitAndTheLaterCoolDown()
    {
        var health = Tracker();
        health.CoolDown(TimeSpan.FromSeconds(10));
        var later = _time.GetUtcNow().AddSeconds(20).UtcTicks;

        health.Apply(new KeyHealthState(null, _time.GetUtcNow().AddSeconds(2).UtcTicks, 0));
        Assert.Equal(_time.GetUtcNow().AddSeconds(10).UtcTicks, health.Current.CoolUntilTicks); // the later one stays

        health.Apply(new KeyHealthState("blocked", 0, later));
        Assert.Equal(KeyState.Revoked, health.State);
        Assert.Equal("blocked", health.RevokedReason);

        health.Apply(new KeyHealthState(null, 0, 0)); // re-enabled and closed elsewhere
        _time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(KeyState.Active, health.State);
        Assert.True(health.TryEnter());
    }

    [Fact]
    public void RestingStates_AreTwo_ShownAsCoolingWithADetail()
    {
        var health = Tracker();
        health.CoolDown(TimeSpan.FromSeconds(5));
        Assert.Equal(KeyState.CoolingDown, health.State);
        health.RecordFailure();
        health.RecordFailure();
        health.RecordFailure();
        Assert.Equal(KeyState.CircuitOpen, health.State); // the open circuit is told first: it outlasts a 429's rest

        Assert.Equal("cooling", KeyStateNames.Of(KeyState.CoolingDown));
        Assert.Equal("cooling", KeyStateNames.Of(KeyState.CircuitOpen));
        Assert.Equal("rate_limited", KeyStateNames.Detail(KeyState.CoolingDown));
        Assert.Equal("circuit_open", KeyStateNames.Detail(KeyState.CircuitOpen));
        Assert.Null(KeyStateNames.Detail(KeyState.Active));
        Assert.True(KeyState.CircuitOpen.IsCooling());
        Assert.False(KeyState.Saturated.IsCooling());
    }
}
