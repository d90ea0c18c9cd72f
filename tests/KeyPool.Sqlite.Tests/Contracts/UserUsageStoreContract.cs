using KeyPool.Core.Usage;

namespace KeyPool.Storage.Contracts;

/// <summary>
/// What every <see cref="IUserUsageStore"/> must do. Adapter-neutral on purpose: a store's test
/// project links this file and supplies <see cref="CreateStoreAsync"/>.
/// </summary>
public abstract class UserUsageStoreContract
{
    private static readonly CancellationToken None = CancellationToken.None;
    private static readonly DateOnly Day = new(2026, 11, 28);

    /// <summary>A new, initialised store on this test's database (the same database on every call within a test).</summary>
    protected abstract Task<IUserUsageStore> CreateStoreAsync();

    [Fact]
    public async Task ReadUser_NothingRecorded_IsEmpty()
    {
        var store = await CreateStoreAsync();

        Assert.Empty(await store.ReadUserAsync("u1", Day.AddDays(-29), Day, None));
        Assert.Empty(await store.TopAsync(Day, UserUsageOrder.Tokens, 10, None));
    }

    [Fact]
    public async Task AddAsync_SumsEveryCounter_OneRowPerUserPerDay()
    {
        var store = await CreateStoreAsync();

        await store.AddAsync([new UserDayUsage("u1", Day, 1, 2, 3, 4, 5, 6, 7_000_000_000_000, 8)], None);
        await store.AddAsync([new UserDayUsage("u1", Day, 10, 20, 30, 40, 50, 60, 70, 80), new UserDayUsage("u1", Day.AddDays(-1), 1, 1, 1, 1, 1, 1, 1, 0)], None);
        await store.AddAsync([], None);

        Assert.Equal(
            [new UserDayUsage("u1", Day.AddDays(-1), 1, 1, 1, 1, 1, 1, 1, 0), new UserDayUsage("u1", Day, 11, 22, 33, 44, 55, 66, 7_000_000_000_070, 88)],
            await store.ReadUserAsync("u1", Day.AddDays(-29), Day, None));
    }

    [Fact]
    public async Task AddAsync_SameUserAndDayTwiceInOneCall_AddsBoth()
    {
        var store = await CreateStoreAsync();

        await store.AddAsync([Row("u1", Day, 1, 10), Row("u2", Day, 1, 1), Row("u1", Day, 2, 20)], None);

        Assert.Equal([Row("u1", Day, 3, 30)], await store.ReadUserAsync("u1", Day, Day, None));
    }

    [Fact]
    public async Task AddAsync_ManyRows_TakesTheBulkPathToo()
    {
        var store = await CreateStoreAsync();
        var rows = Enumerable.Range(0, 12_000).Select(i => Row($"user-{i % 10_000:D5}", Day, 1, i)).ToList();

        await store.AddAsync(rows, None);
        await store.AddAsync(rows.Take(3).ToList(), None);

        Assert.Equal(Row("user-00000", Day, 3, 0 + 10_000 + 0), Assert.Single(await store.ReadUserAsync("user-00000", Day, Day, None)));
        var exported = new List<UserDayUsage>();
        await foreach (var row in store.ExportDayAsync(Day, None))
        {
            exported.Add(row);
        }
        Assert.Equal(10_000, exported.Count);
        Assert.Equal(rows.Sum(r => r.TotalTokens) + 0 + 1 + 2, exported.Sum(r => r.TotalTokens));
        Assert.Equal(rows.Sum(r => r.CostTicks) + 3 * (0 + 1 + 2), exported.Sum(r => r.CostTicks));
    }

    [Fact]
    public async Task ReadUser_KeepsToTheRangeAndTheUser_OldestFirst()
    {
        var store = await CreateStoreAsync();
        await store.AddAsync(
            [Row("u1", Day.AddDays(-30), 1, 1), Row("u1", Day.AddDays(-29), 2, 2), Row("u1", Day, 3, 3), Row("u1", Day.AddDays(1), 4, 4), Row("u10", Day, 5, 5)],
            None);

        Assert.Equal([Row("u1", Day.AddDays(-29), 2, 2), Row("u1", Day, 3, 3)], await store.ReadUserAsync("u1", Day.AddDays(-29), Day, None));
    }

    [Fact]
    public async Task TopAsync_HeaviestFirst_ByTokensOrRequests_OfThatDayOnly()
    {
        var store = await CreateStoreAsync();
        await store.AddAsync(
            [Row("light", Day, 50, 10), Row("heavy", Day, 1, 900), Row("middle", Day, 5, 500), Row("yesterday", Day.AddDays(-1), 99, 9999)],
            None);

        Assert.Equal(["heavy", "middle"], (await store.TopAsync(Day, UserUsageOrder.Tokens, 2, None)).Select(r => r.UserId));
        Assert.Equal(["light", "middle", "heavy"], (await store.TopAsync(Day, UserUsageOrder.Requests, 10, None)).Select(r => r.UserId));
        Assert.Equal(Row("heavy", Day, 1, 900), (await store.TopAsync(Day, UserUsageOrder.Tokens, 1, None))[0]);
    }

    [Fact]
    public async Task TopAsync_ByCost_MostExpensiveFirst()
    {
        var store = await CreateStoreAsync();
        await store.AddAsync(
        [
            new UserDayUsage("cheap", Day, 9, 9, 9, 9, 9, 900, 10, 0),
            new UserDayUsage("dear", Day, 1, 1, 1, 1, 1, 10, 5_000, 5_000),
            new UserDayUsage("other-day", Day.AddDays(-1), 1, 1, 1, 1, 1, 1, 99_999, 0),
        ], None);

        var top = await store.TopAsync(Day, UserUsageOrder.Cost, 5, None);

        Assert.Equal(["dear", "cheap"], top.Select(r => r.UserId));
        Assert.Equal((5_000L, 5_000L), (top[0].CostTicks, top[0].EstimatedCostTicks));
    }

    [Fact]
    public async Task DayCostAsync_SumsEveryUsersCostOfThatDayOnly_ZeroForAnEmptyDay()
    {
        var store = await CreateStoreAsync();
        await store.AddAsync(
        [
            new UserDayUsage("a", Day, 1, 1, 1, 1, 1, 1, 7_000_000_000_000, 0),
            new UserDayUsage("b", Day, 1, 1, 1, 1, 1, 1, 25, 25),
            new UserDayUsage("a", Day.AddDays(-1), 1, 1, 1, 1, 1, 1, 99_999, 0),
            new UserDayUsage("c", Day.AddDays(1), 1, 1, 1, 1, 1, 1, 5, 0),
        ], None);
        await store.AddAsync([new UserDayUsage("b", Day, 1, 1, 1, 1, 1, 1, 100, 0)], None);

        Assert.Equal(7_000_000_000_125, await store.DayCostAsync(Day, None));
        Assert.Equal(99_999, await store.DayCostAsync(Day.AddDays(-1), None));
        Assert.Equal(0, await store.DayCostAsync(Day.AddDays(-2), None));
    }

    [Fact]
    public async Task ExportDayAsync_EveryRowOfTheDay_AnyId()
    {
        var store = await CreateStoreAsync();
        string[] ids = ["plain", "with,comma", "with \"quotes\"", "ünïcødé", "line\nbreak"];
        await store.AddAsync([.. ids.Select((id, i) => Row(id, Day, i + 1, (i + 1) * 10)), Row("plain", Day.AddDays(1), 7, 7)], None);

        var exported = new List<UserDayUsage>();
        await foreach (var row in store.ExportDayAsync(Day, None))
        {
            exported.Add(row);
        }

        Assert.Equal(ids.Select((id, i) => Row(id, Day, i + 1, (i + 1) * 10)).OrderBy(r => r.UserId, StringComparer.Ordinal),
            exported.OrderBy(r => r.UserId, StringComparer.Ordinal));
    }

    [Fact]
    public async Task AddAsync_FromTwoStoreInstancesConcurrently_LosesNothing()
    {
        var first = await CreateStoreAsync();
        var second = await CreateStoreAsync();

        await Task.WhenAll(Enumerable.Range(0, 60).Select(i =>
            Task.Run(() => (i % 2 == 0 ? first : second).AddAsync([Row($"u{i % 3}", Day, 1, 10)], None))));

        var top = await first.TopAsync(Day, UserUsageOrder.Requests, 10, None);
        Assert.Equal([20L, 20L, 20L], top.Select(r => r.Requests));
        Assert.Equal(600L, top.Sum(r => r.TotalTokens));
    }

    private static UserDayUsage Row(string userId, DateOnly day, long requests, long tokens) =>
        new(userId, day, requests, tokens, 0, 0, 0, tokens, CostTicks: tokens * 3);
}
