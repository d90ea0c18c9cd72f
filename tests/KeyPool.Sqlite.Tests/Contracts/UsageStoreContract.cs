using KeyPool.Core.Usage;

namespace KeyPool.Storage.Contracts;

/// <summary>
/// What every <see cref="IUsageStore"/> must do. Adapter-neutral on purpose: a store's test
/// project links this file and supplies <see cref="CreateStore"/>.
/// </summary>
public abstract class UsageStoreContract
{
    private static readonly CancellationToken None = CancellationToken.None;
    private static readonly DateTimeOffset Noon = new(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);

    /// <summary>A new store instance on this test's database (the same database on every call within a test).</summary>
    protected abstract IUsageStore CreateStore();

    protected async Task<IUsageStore> CreateInitializedStoreAsync()
    {
        var store = CreateStore();
        await store.InitializeAsync(None);
        return store;
    }

    [Fact]
    public async Task ReadAll_NothingRecorded_IsEmpty()
    {
        var store = await CreateInitializedStoreAsync();

        Assert.Empty(await store.ReadAllAsync(None));
    }

    [Fact]
    public async Task AddAsync_EmptyList_IsANoOp()
    {
        var store = await CreateInitializedStoreAsync();
        await store.AddAsync([Usage(1, 1, Noon)], None);

        await store.AddAsync([], None);

        Assert.Equal([Usage(1, 1, Noon)], await store.ReadAllAsync(None));
    }

    [Fact]
    public async Task AddAsync_SumsEveryCounterAndKeepsTheLatestTime()
    {
        var store = await CreateInitializedStoreAsync();
        var first = new KeyGroupUsage(2, 1, 2, 3, 4, 5, 6, 7, 8, 9, Noon, 12_000_000_000_000, 13, 14);
        var earlier = new KeyGroupUsage(2, 10, 20, 30, 40, 50, 60, 70, 80, 90, Noon.AddMinutes(-5), 120, 130, 140);

        await store.AddAsync([first], None);
        await store.AddAsync([earlier], None);
        await store.AddAsync([KeyGroupUsage.Zero(2)], None); // no request time: keeps the stored one

        Assert.Equal([new KeyGroupUsage(2, 11, 22, 33, 44, 55, 66, 77, 88, 99, Noon, 12_000_000_000_120, 143, 154)], await store.ReadAllAsync(None));
    }

    [Fact]
    public async Task AddAsync_SeveralGroupsAndRepeatsInOneCall_AddsEach()
    {
        var store = await CreateInitializedStoreAsync();

        await store.AddAsync([Usage(3, 1, null), Usage(1, 2, Noon), Usage(3, 4, Noon.AddSeconds(1))], None);

        var totals = (await store.ReadAllAsync(None)).OrderBy(u => u.Group);
        Assert.Equal([Usage(1, 2, Noon), Usage(3, 5, Noon.AddSeconds(1))], totals);
    }

    [Fact]
    public async Task AddAsync_TimesWithOffsets_ComparedAsInstants()
    {
        var store = await CreateInitializedStoreAsync();
        var nineUtc = new DateTimeOffset(2025, 6, 1, 9, 0, 0, TimeSpan.Zero);
        var eightUtcWrittenAsTenPlusTwo = new DateTimeOffset(2025, 6, 1, 10, 0, 0, TimeSpan.FromHours(2));

        await store.AddAsync([Usage(1, 1, nineUtc)], None);
        await store.AddAsync([Usage(1, 1, eightUtcWrittenAsTenPlusTwo)], None);

        var stored = Assert.Single(await store.ReadAllAsync(None));
        Assert.Equal(nineUtc, stored.LastRequestAt);
    }

    [Fact]
    public async Task AddAsync_FromTwoStoreInstancesConcurrently_LosesNothing()
    {
        var first = await CreateInitializedStoreAsync();
        var second = await CreateInitializedStoreAsync();

        await Task.WhenAll(Enumerable.Range(0, 100).Select(i =>
            Task.Run(() => (i % 2 == 0 ? first : second).AddAsync([Usage(1 + (i % 3), 1, Noon.AddSeconds(i))], None))));

        var totals = (await first.ReadAllAsync(None)).OrderBy(u => u.Group).ToList();
        Assert.Equal([34L, 33L, 33L], totals.Select(u => u.Requests));
        Assert.Equal([Noon.AddSeconds(99), Noon.AddSeconds(97), Noon.AddSeconds(98)], totals.Select(u => u.LastRequestAt!.Value));
    }

    private static KeyGroupUsage Usage(int group, long requests, DateTimeOffset? at) =>
        KeyGroupUsage.Zero(group) with { Requests = requests, TotalTokens = requests * 100, LastRequestAt = at };
}
