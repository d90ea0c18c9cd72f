using KeyPool.Core.Budgets;
using KeyPool.Core.KeyHealth;
using KeyPool.Core.Keys;
using KeyPool.Core.Outcomes;
using KeyPool.Core.Routing;
using Microsoft.Extensions.Time.Testing;

namespace KeyPool.Core.Tests.Outcomes;

/// <summary>The one writer of key health: what it changes here goes to the cluster, what it takes from others does not.</summary>
public sealed class KeyHealthUpdaterTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 28, 12, 0, 0, TimeSpan.Zero));

    [Fact]
    public void Publish_ReportsEveryChangeMadeHere_ButNotAppliedStates()
    {
        var routing = new RoutingOptions { MaxQueueWait = TimeSpan.Zero };
        var router = new KeyPoolRouter(new KeyRing([new UpstreamKey(1, "xai-test-key-00000001")]), KeySelectionPolicies.Create("StickyWithSpillover", routing, new Random(1))!,
            routing, new BudgetOptions(), new KeyHealthOptions { BreakerFailures = 3 }, new Dictionary<int, GroupSettings>(), _time);
        var health = new KeyHealthUpdater(router, _time);
        var changes = new List<KeyHealthState>();
        health.Publish = (_, state) => changes.Add(state);
        var admission = router.TryAdmit(1, 0, 1)!.Value;
        var failure = new OutcomeVerdict(false, true, 502, "upstream_error", Action: KeyAction.Failure);

        health.Apply(admission, failure);
        health.Apply(admission, failure);
        Assert.Empty(changes); // below the breaker threshold: nothing to share
        health.Apply(admission, failure);
        health.Apply(admission, new OutcomeVerdict(false, true, 429, "rate_limit_exceeded", Action: KeyAction.CoolDown, ResetAfter: TimeSpan.FromSeconds(5)));
        var revoke = new OutcomeVerdict(false, true, 502, "upstream_key_rejected", Reason: "invalid key", Action: KeyAction.Revoke);
        Assert.Equal(KeyChange.Revoked, health.Apply(admission, revoke).Change);
        Assert.Equal(KeyChange.None, health.Apply(admission, revoke).Change); // already out: not again
        health.Reenable(1);
        health.ApplyRemote(admission.Member, new KeyHealthState("revoked elsewhere", 0, 0));

        Assert.Equal(4, changes.Count);
        Assert.NotEqual(0, changes[0].OpenUntilTicks);
        Assert.Equal(_time.GetUtcNow().AddSeconds(5).UtcTicks, changes[1].CoolUntilTicks);
        Assert.Equal("invalid key", changes[2].RevokedReason);
        Assert.Equal(new KeyHealthState(null, 0, 0), changes[3]);
    }
}
