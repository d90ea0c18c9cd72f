using KeyPool.Core.Users;

namespace KeyPool.Core.Tests.Users;

public sealed class UserGroupCacheTests
{
    [Fact]
    public void TryGet_AfterSet_ReturnsTheRecord()
    {
        var cache = new UserGroupCache(100);
        var user = new UserRecord("u1", 7, "free");
        cache.Set(user);

        Assert.True(cache.TryGet("u1", out var found));
        Assert.Same(user, found);
        Assert.False(cache.TryGet("u2", out _));
    }

    [Fact]
    public void Set_ManyMoreThanCapacity_StaysBounded()
    {
        var cache = new UserGroupCache(1_000);
        for (var i = 0; i < 100_000; i++)
        {
            cache.Set(new UserRecord($"user-{i}", i % 31 + 1, "free"));
        }

        Assert.True(cache.Count <= 1_000, $"held {cache.Count}");
        Assert.True(cache.TryGet("user-99999", out _));
    }

    [Fact]
    public void TryGet_RecentlyUsedUser_SurvivesRotation()
    {
        var cache = new UserGroupCache(10);
        cache.Set(new UserRecord("hot", 1, "free"));
        for (var i = 0; i < 50; i++)
        {
            Assert.True(cache.TryGet("hot", out _)); // each hit keeps it young
            cache.Set(new UserRecord($"cold-{i}", 2, "free"));
        }

        Assert.True(cache.TryGet("hot", out _));
    }

    [Fact]
    public void Remove_ForgetsTheUser()
    {
        var cache = new UserGroupCache(10);
        cache.Set(new UserRecord("u1", 1, "free"));
        cache.Remove("u1");

        Assert.False(cache.TryGet("u1", out _));
    }
}
