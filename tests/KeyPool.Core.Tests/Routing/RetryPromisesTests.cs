using KeyPool.Core.Budgets;
using KeyPool.Core.Capacity;
using KeyPool.Core.KeyHealth;
using KeyPool.Core.Keys;
using KeyPool.Core.Routing;
using Microsoft.Extensions.Time.Testing;

namespace KeyPool.Core.Tests.Routing;

public sealed class RetryPromisesTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 28, 12, 0, 0, TimeSpan.Zero));

    private KeyPoolRouter Router(int keys, int rpm, int burstSeconds = 1)
    {
        var routing = new RoutingOptions { MaxQueueWait = TimeSpan.Zero };
        var ring = new KeyRing(Enumerable.Range(1, keys).Select(g => new UpstreamKey(g, $"xai-test-key-{g:D8}")));
        return new KeyPoolRouter(ring, KeySelectionPolicies.Create("StickyWithSpillover", routing, new Random(5))!, routing,
            new BudgetOptions { RequestsPerMinute = rpm, BurstSeconds = burstSeconds }, new KeyHealthOptions(), new Dictionary<int, GroupSettings>(), _time);
    }

    [Fact]
    public void RefusedUser_IsPromisedASlot_AndServedThere_AheadOfNewcomers()
    {
        var router = Router(keys: 1, rpm: 60); // one request a second
        Assert.NotNull(router.TryAdmit(1, 0, 1, 0, "a"));
        Assert.Null(router.TryAdmit(1, 0, 1, 0, "b"));
        Assert.Null(router.TryAdmit(1, 0, 1, 0, "c"));

        var waitB = router.RetryAfterSeconds(router.Pool, 0, "b");
        var waitC = router.RetryAfterSeconds(router.Pool, 0, "c");

        Assert.Equal((1, 2), (waitB, waitC)); // one slot a second, in turn
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Null(router.TryAdmit(1, 0, 1, 0, "newcomer")); // b's slot is kept for b
        Assert.NotNull(router.TryAdmit(1, 0, 1, 0, "b"));
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.NotNull(router.TryAdmit(1, 0, 1, 0, "c"));
        Assert.Equal(0, router.Promises.Outstanding);
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.NotNull(router.TryAdmit(1, 0, 1, 0, "newcomer")); // no promise left: first come, first served again
    }

    [Fact]
    public void UnusedPromise_LapsesAfterTheGrace_TheSlotsGoToOthers()
    {
        var router = Router(keys: 1, rpm: 60);
        router.TryAdmit(1, 0, 1, 0, "a");
        Assert.Null(router.TryAdmit(1, 0, 1, 0, "gone"));
        Assert.Equal(1, router.RetryAfterSeconds(router.Pool, 0, "gone"));

        _time.Advance(TimeSpan.FromSeconds(1 + RetryPromises.GraceSeconds + 1));

        Assert.NotNull(router.TryAdmit(1, 0, 1, 0, "other"));
        Assert.Equal(0, router.Promises.Outstanding);
    }

    [Fact]
    public void FullMinute_PromisesFollowTheWindow_NotJustTheNextSecond()
    {
        var router = Router(keys: 1, rpm: 60, burstSeconds: 60); // the whole minute at once
        for (var i = 0; i < 60; i++)
        {
            Assert.NotNull(router.TryAdmit(1, 0, 1, 0, $"u{i}"));
        }
        Assert.Null(router.TryAdmit(1, 0, 1, 0, "late"));

        var wait = router.RetryAfterSeconds(router.Pool, 0, "late");

        Assert.Equal(61, wait); // the first second's requests leave the 61-bucket window then
        _time.Advance(TimeSpan.FromSeconds(wait));
        Assert.NotNull(router.TryAdmit(1, 0, 1, 0, "late"));
    }

    [Fact]
    public void ThreeTimesCapacity_ClientsThatRetryWhenTold_AreServedOnTheirNextTry()
    {
        const int keys = 4, rpm = 60;
        var router = Router(keys, rpm, burstSeconds: BudgetOptions.DefaultBurstSeconds);
        var retries = new List<(long Second, string User)>();
        int served = 0, retried = 0, retriedServed = 0, next = 0;
        var start = router.Second;
        for (var t = 0; t < 400; t++)
        {
            var second = router.Second;
            var due = retries.Where(r => r.Second == second).Select(r => r.User).ToList();
            var fresh = t < 120 ? Enumerable.Range(0, 3 * keys * rpm / 60).Select(_ => $"user-{next++}").ToList() : [];
            foreach (var user in due.Concat(fresh))
            {
                var isRetry = due.Contains(user);
                var admitted = router.TryAdmit(user.GetHashCode() % keys + 1, 0, 100, 0, user);
                if (admitted is { } admission)
                {
                    admission.Settle(100);
                    served += t < 120 ? 1 : 0;
                    retriedServed += isRetry ? 1 : 0;
                }
                else if (!isRetry)
                {
                    retries.Add((second + router.RetryAfterSeconds(router.Pool, 0, user), user));
                }
                retried += isRetry ? 1 : 0;
            }
            _time.Advance(TimeSpan.FromSeconds(1));
        }

        Assert.True(served >= 0.98 * keys * rpm * 2, $"served {served} of a budget of {keys * rpm * 2} in 2 minutes");
        Assert.True(retried > 500);
        Assert.True(retriedServed >= 0.9 * retried, $"{retriedServed} of {retried} retries served");
        Assert.True(router.Second - start == 400);
    }

    [Fact]
    public void ClientsThatNeverRetry_ThePromisesGetOutOfTheWay_TheBudgetIsStillServed()
    {
        const int keys = 4, rpm = 60;
        var router = Router(keys, rpm, burstSeconds: BudgetOptions.DefaultBurstSeconds);
        var served = 0;
        for (var t = 0; t < 120; t++)
        {
            for (var i = 0; i < 3 * keys * rpm / 60; i++)
            {
                var user = $"user-{t}-{i}";
                if (router.TryAdmit(i % keys + 1, 0, 100, 0, user) is not null)
                {
                    served++;
                }
                else
                {
                    router.RetryAfterSeconds(router.Pool, 0, user); // promised, never redeemed
                }
            }
            _time.Advance(TimeSpan.FromSeconds(1));
        }

        Assert.True(served >= 0.95 * keys * rpm * 2, $"served {served} of {keys * rpm * 2}");
        Assert.True(router.Promises.ReturnRate < 0.2, $"return rate {router.Promises.ReturnRate}");
    }
}
