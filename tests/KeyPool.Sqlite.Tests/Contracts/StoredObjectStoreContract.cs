using KeyPool.Core.StoredObjects;
using Microsoft.Extensions.Time.Testing;

namespace KeyPool.Storage.Contracts;

/// <summary>
/// What every <see cref="IStoredObjectStore"/> must do, and the <see cref="StoredObjectDirectory"/> over it. Adapter-neutral
/// on purpose: a store's test project links this file and supplies the stores.
/// </summary>
public abstract class StoredObjectStoreContract : IAsyncLifetime
{
    private static readonly CancellationToken None = CancellationToken.None;
    private IStoredObjectStore _store = null!;

    /// <summary>The clock of the directories.</summary>
    protected FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 12, 3, 9, 0, 0, TimeSpan.Zero));

    /// <summary>Creates the database of this test (called once, before anything else).</summary>
    protected virtual Task CreateDatabaseAsync() => Task.CompletedTask;

    /// <summary>A new store on this test's database (another instance's, when called twice).</summary>
    protected abstract IStoredObjectStore CreateStore();

    public async Task InitializeAsync()
    {
        await CreateDatabaseAsync();
        _store = CreateStore();
        await _store.InitializeAsync(None);
    }

    public virtual Task DisposeAsync() => Task.CompletedTask;

    private StoredObject Response(string id, string team = "team-a", int group = 1, string? user = "alice", TimeSpan? life = null) =>
        new(id, StoredObjectKind.Response, team, group, user, Time.GetUtcNow() + (life ?? StoredObjectRetention.Response));

    [Fact]
    public async Task Add_ThenFind_ReturnsTheOwner()
    {
        var response = Response("resp_1");
        var deferred = new StoredObject("3f2a-deferred", StoredObjectKind.Deferred, "team-b", 7, null, Time.GetUtcNow() + StoredObjectRetention.Deferred);

        await _store.AddAsync([response, deferred], None);

        Assert.Equal(response, await _store.FindAsync("resp_1", None));
        Assert.Equal(deferred, await _store.FindAsync("3f2a-deferred", None));
        Assert.Null(await _store.FindAsync("resp_unknown", None));
    }

    [Fact]
    public async Task Add_SameIdAgain_Overwrites_AndInitializeTwiceIsHarmless()
    {
        await _store.AddAsync([Response("resp_1", team: "team-a")], None);
        await _store.AddAsync([Response("resp_1", team: "team-b", group: 3), Response("resp_1", team: "team-c", group: 4)], None);
        await _store.InitializeAsync(None);

        var found = await _store.FindAsync("resp_1", None);
        Assert.Equal(("team-c", 4), (found!.Team, found.Group));
    }

    [Fact]
    public async Task Remove_ForgetsOnlyThoseIds()
    {
        await _store.AddAsync([Response("resp_1"), Response("resp_2")], None);

        await _store.RemoveAsync(["resp_1", "resp_never"], None);

        Assert.Null(await _store.FindAsync("resp_1", None));
        Assert.NotNull(await _store.FindAsync("resp_2", None));
    }

    [Fact]
    public async Task Purge_DeletesExpiredOnly_AtMostMax()
    {
        await _store.AddAsync(
        [
            Response("resp_old1", life: TimeSpan.FromHours(1)), Response("resp_old2", life: TimeSpan.FromHours(2)),
            Response("resp_old3", life: TimeSpan.FromHours(3)), Response("resp_live", life: TimeSpan.FromDays(30)),
        ], None);
        var later = Time.GetUtcNow() + TimeSpan.FromHours(4);

        Assert.Equal(2, await _store.PurgeAsync(later, 2, None));
        Assert.Equal(1, await _store.PurgeAsync(later, 100, None));
        Assert.Equal(0, await _store.PurgeAsync(later, 100, None));

        Assert.NotNull(await _store.FindAsync("resp_live", None));
        Assert.Null(await _store.FindAsync("resp_old3", None));
    }

    [Fact]
    public async Task Directory_RecordedOnOneInstance_FoundOnAnotherAfterTheFlush()
    {
        var other = CreateStore();
        await other.InitializeAsync(None);
        var a = new StoredObjectDirectory(_store, 100, 100, Time);
        var b = new StoredObjectDirectory(other, 100, 100, Time);

        a.Record(Response("resp_1", team: "team-b", group: 3));
        Assert.Equal("team-b", (await a.FindAsync("resp_1", TimeSpan.Zero, None))!.Team); // the same instance: from memory at once
        Assert.Null(await b.FindAsync("resp_1", TimeSpan.Zero, None));                      // not written yet
        Assert.Equal(1, await a.FlushAsync(None));

        Assert.Equal("team-b", (await b.FindAsync("resp_1", TimeSpan.Zero, None))!.Team);
        Assert.Equal(0, a.Pending);
    }

    [Fact]
    public async Task Directory_Forget_RemovesFromTheStoreAtTheFlush()
    {
        var a = new StoredObjectDirectory(_store, 100, 100, Time);
        a.Record(Response("resp_1"));
        a.Forget("resp_1");

        Assert.Equal(2, await a.FlushAsync(None)); // written, then removed: deleted before the flush ends deleted

        Assert.Null(await a.FindAsync("resp_1", TimeSpan.Zero, None));
        Assert.Null(await _store.FindAsync("resp_1", None));
    }

    [Fact]
    public async Task Directory_Expired_IsUnknown_ThoughNotPurgedYet()
    {
        var a = new StoredObjectDirectory(_store, 100, 100, Time);
        a.Record(new StoredObject("deferred-1", StoredObjectKind.Deferred, "team-a", 1, "alice", Time.GetUtcNow() + StoredObjectRetention.Deferred));
        await a.FlushAsync(None);
        var fresh = new StoredObjectDirectory(_store, 100, 100, Time);

        Time.Advance(StoredObjectRetention.Deferred + TimeSpan.FromSeconds(1));

        Assert.Null(await a.FindAsync("deferred-1", TimeSpan.Zero, None));
        Assert.Null(await fresh.FindAsync("deferred-1", TimeSpan.Zero, None));
        Assert.Equal(1, await fresh.PurgeAsync(100, None));
    }

    [Fact]
    public async Task Directory_CacheIsBounded_EvictedEntriesComeBackFromTheStore()
    {
        var a = new StoredObjectDirectory(_store, 10, 10_000, Time);
        for (var i = 0; i < 1_000; i++)
        {
            a.Record(Response($"resp_{i}", user: $"user-{i}"));
        }
        Assert.Equal(1_000, await a.FlushAsync(None));

        Assert.Equal(10, a.Cached);
        var reads = a.StoreReads;
        Assert.Equal("user-3", (await a.FindAsync("resp_3", TimeSpan.Zero, None))!.UserId);
        Assert.Equal(reads + 1, a.StoreReads);
        Assert.Equal("user-999", (await a.FindAsync("resp_999", TimeSpan.Zero, None))!.UserId);
        Assert.Equal(reads + 1, a.StoreReads); // the newest are in memory
    }
}
