using KeyPool.Core.Callers;
using Microsoft.Extensions.Time.Testing;

namespace KeyPool.Core.Tests.Callers;

public sealed class GatewayKeyCacheTests
{
    private readonly FakeTimeProvider _time = new();

    private static GatewayKey Key(string user, DateTimeOffset? revoked = null) =>
        new(GatewayKeySecret.NewId(), user, "kp-abcd…", DateTimeOffset.UnixEpoch, revoked);

    [Fact]
    public void TryGet_AfterSet_ReturnsTheKey()
    {
        var cache = new GatewayKeyCache(100, TimeSpan.FromMinutes(1), _time);
        var hash = GatewayKeySecret.Hash(GatewayKeySecret.Generate());
        var key = Key("alice");

        cache.Set(hash, key, cache.Version);

        Assert.True(cache.TryGet(hash, out var found));
        Assert.Same(key, found);
        Assert.False(cache.TryGet(GatewayKeySecret.Hash(GatewayKeySecret.Generate()), out _));
    }

    [Fact]
    public void TryGet_AfterTimeToLive_MissesSoTheStoreIsReadAgain()
    {
        var cache = new GatewayKeyCache(100, TimeSpan.FromMinutes(1), _time);
        var hash = GatewayKeySecret.Hash(GatewayKeySecret.Generate());
        cache.Set(hash, Key("alice"), cache.Version);

        _time.Advance(TimeSpan.FromSeconds(59));
        Assert.True(cache.TryGet(hash, out _));
        _time.Advance(TimeSpan.FromSeconds(2));
        Assert.False(cache.TryGet(hash, out _));
    }

    [Fact]
    public void Remove_ForgetsTheKeyAtOnce()
    {
        var cache = new GatewayKeyCache(100, TimeSpan.FromMinutes(1), _time);
        var hash = GatewayKeySecret.Hash(GatewayKeySecret.Generate());
        cache.Set(hash, Key("alice"), cache.Version);

        cache.Remove(hash);

        Assert.False(cache.TryGet(hash, out _));
    }

    [Fact]
    public void Set_LoadedBeforeARevocation_IsNotCached()
    {
        var cache = new GatewayKeyCache(100, TimeSpan.FromMinutes(1), _time);
        var hash = GatewayKeySecret.Hash(GatewayKeySecret.Generate());
        var before = cache.Version; // a request starts reading the store…
        cache.Remove(hash);         // …the key is revoked meanwhile…

        cache.Set(hash, Key("alice"), before); // …and the stale active row comes back

        Assert.False(cache.TryGet(hash, out _));
    }

    [Fact]
    public void Set_RevokedKey_IsNotCached()
    {
        var cache = new GatewayKeyCache(100, TimeSpan.FromMinutes(1), _time);
        var hash = GatewayKeySecret.Hash(GatewayKeySecret.Generate());

        cache.Set(hash, Key("alice", DateTimeOffset.UnixEpoch), cache.Version);

        Assert.False(cache.TryGet(hash, out _));
    }

    [Fact]
    public void TryGet_RecentlyUsedKey_StaysWhenTheCacheFills()
    {
        var cache = new GatewayKeyCache(10, TimeSpan.FromMinutes(1), _time);
        var hot = GatewayKeySecret.Hash(GatewayKeySecret.Generate());
        cache.Set(hot, Key("hot"), cache.Version);
        for (var i = 0; i < 50; i++)
        {
            _time.Advance(TimeSpan.FromMilliseconds(100));
            Assert.True(cache.TryGet(hot, out _));
            _time.Advance(TimeSpan.FromMilliseconds(100));
            cache.Set(GatewayKeySecret.Hash(GatewayKeySecret.Generate()), Key($"cold-{i}"), cache.Version);
            Assert.True(cache.Count <= 10, $"held {cache.Count}");
        }

        Assert.True(cache.TryGet(hot, out _));
    }

    [Fact]
    public void Set_ManyMoreThanCapacity_StaysBounded()
    {
        var cache = new GatewayKeyCache(1_000, TimeSpan.FromMinutes(1), _time);
        GatewayKeyHash last = default;
        for (var i = 0; i < 20_000; i++)
        {
            last = GatewayKeySecret.Hash(GatewayKeySecret.Generate());
            cache.Set(last, Key($"user-{i}"), cache.Version);
        }

        Assert.True(cache.Count <= 1_000, $"held {cache.Count}");
        Assert.True(cache.TryGet(last, out _));
    }
}
