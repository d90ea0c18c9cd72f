using KeyPool.Core.Budgets;
using KeyPool.Core.KeyHealth;
using KeyPool.Core.Keys;
using KeyPool.Core.Routing;
using Microsoft.Extensions.Time.Testing;

namespace KeyPool.Core.Tests.Routing;

public sealed class SignUpGroupsTests
{
    private static PoolSnapshot Pool(params int[] groups) => PoolSnapshot.Build(
        new KeyRing(groups.Select(g => new UpstreamKey(g, $"xai-test-key-{g:D8}"))), new Dictionary<int, GroupSettings>(), new Dictionary<int, string>(),
        new BudgetOptions(), new KeyHealthOptions(), new FakeTimeProvider());

    [Fact]
    public void Of_RevokedKeys_AreLeftOut()
    {
        var pool = Pool(1, 2, 3, 4);
        pool.Find(2)!.Health.Revoke("test");
        pool.Find(4)!.Health.Revoke("test");

        Assert.Equal([1, 3], SignUpGroups.Of(pool, pool.Ring.Groups));
    }

    [Fact]
    public void Of_AllUsable_ReturnsTheSameList_NoAllocation()
    {
        var pool = Pool(1, 2, 3);

        Assert.Same(pool.Ring.Groups, SignUpGroups.Of(pool, pool.Ring.Groups));
    }

    [Fact]
    public void Of_EveryKeyRevoked_StillAssignsSomewhere()
    {
        var pool = Pool(1, 2);
        pool.Find(1)!.Health.Revoke("test");
        pool.Find(2)!.Health.Revoke("test");

        Assert.Equal([1, 2], SignUpGroups.Of(pool, pool.Ring.Groups));
    }

    [Fact]
    public void Of_AGroupTheSnapshotDoesNotKnowYet_CountsAsUsable()
    {
        var pool = Pool(1, 2);
        pool.Find(1)!.Health.Revoke("test");

        Assert.Equal([2, 3], SignUpGroups.Of(pool, [1, 2, 3]));
    }
}
