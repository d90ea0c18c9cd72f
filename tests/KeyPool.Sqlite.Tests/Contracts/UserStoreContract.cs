using System.Runtime.CompilerServices;
using KeyPool.Core.Users;

namespace KeyPool.Storage.Contracts;

/// <summary>
/// What every <see cref="IUserStore"/> must do. Adapter-neutral on purpose: a store's test
/// project links this file and supplies <see cref="CreateStore"/> and <see cref="ScanUsersByGroupAsync"/>.
/// </summary>
public abstract class UserStoreContract
{
    private static readonly CancellationToken None = CancellationToken.None;

    /// <summary>A new store instance on this test's database (the same database on every call within a test).</summary>
    protected abstract IUserStore CreateStore();

    /// <summary>Users per group counted from the users themselves, bypassing any counter the store keeps.</summary>
    protected abstract Task<IReadOnlyDictionary<int, long>> ScanUsersByGroupAsync();

    protected async Task<IUserStore> CreateInitializedStoreAsync()
    {
        var store = CreateStore();
        await store.InitializeAsync(None);
        return store;
    }

    [Fact]
    public async Task FindAsync_UnknownUser_ReturnsNull()
    {
        var store = await CreateInitializedStoreAsync();

        Assert.Null(await store.FindAsync("nobody", None));
        Assert.Empty(await store.CountUsersByGroupAsync(None));
    }

    [Fact]
    public async Task UpdateAsync_ChangesTierAndMovesTheUserWithTheGroupCounts()
    {
        var store = await CreateInitializedStoreAsync();
        await store.GetOrAssignAsync("mover", "free", [1], None);
        await store.GetOrAssignAsync("stayer", "free", [1], None);

        var retiered = await store.UpdateAsync("mover", "pro", null, None);
        var moved = await store.UpdateAsync("mover", null, 2, None);

        Assert.Equal(new UserRecord("mover", 1, "pro"), retiered);
        Assert.Equal(new UserRecord("mover", 2, "pro"), moved);
        Assert.Equal(moved, await store.FindAsync("mover", None));
        var counts = await store.CountUsersByGroupAsync(None);
        Assert.Equal(1, counts[1]);
        Assert.Equal(1, counts[2]);
        Assert.Equal(counts, await ScanUsersByGroupAsync());
        Assert.Equal(new UserRecord("mover", 2, "pro"), await store.UpdateAsync("mover", null, 2, None)); // to the same group: counts unchanged
        Assert.Equal(1, (await store.CountUsersByGroupAsync(None))[2]);
    }

    [Fact]
    public async Task UpdateAsync_UnknownUser_ReturnsNullAndChangesNothing()
    {
        var store = await CreateInitializedStoreAsync();

        Assert.Null(await store.UpdateAsync("nobody", "pro", 2, None));
        Assert.Empty(await store.CountUsersByGroupAsync(None));
    }

    [Fact]
    public async Task GetOrAssign_NewUser_GetsFewestUsersGroupWithTiesToLowest()
    {
        var store = await CreateInitializedStoreAsync();
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(1, (await store.GetOrAssignAsync($"heavy-{i}", "free", [1], None)).User.ApiKeyGroup);
        }

        // Group 2 is emptier until it catches up with group 1; then the tie goes to the lower number.
        int[] expected = [2, 2, 2, 1, 2, 1];
        foreach (var (want, i) in expected.Select((g, i) => (g, i)))
        {
            var assignment = await store.GetOrAssignAsync($"user-{i}", "free", [2, 1], None);
            Assert.True(assignment.Created);
            Assert.Equal(want, assignment.User.ApiKeyGroup);
        }

        // Tie among all three, listed out of order: the lowest wins.
        var tied = await store.GetOrAssignAsync("user-tied", "free", [3, 1, 2], None);
        Assert.Equal(3, tied.User.ApiKeyGroup);
        Assert.Equal(new Dictionary<int, long> { [1] = 5, [2] = 4, [3] = 1 }, await store.CountUsersByGroupAsync(None));
    }

    [Fact]
    public async Task GetOrAssign_ExistingUser_ReturnedUnchangedEvenIfGroupUnavailable()
    {
        var store = await CreateInitializedStoreAsync();
        var first = await store.GetOrAssignAsync("alice", "free", [4, 5], None);

        var again = await store.GetOrAssignAsync("alice", "pro", [9], None);

        Assert.True(first.Created);
        Assert.False(again.Created);
        Assert.Equal(new UserRecord("alice", 4, "free"), again.User);
        Assert.Equal(first.User, await store.FindAsync("alice", None));
        Assert.Equal(new Dictionary<int, long> { [4] = 1 }, await store.CountUsersByGroupAsync(None));
    }

    [Fact]
    public async Task GetOrAssign_NewUserWithNoAvailableGroup_ThrowsAndStoresNothing()
    {
        var store = await CreateInitializedStoreAsync();

        await Assert.ThrowsAsync<InvalidOperationException>(() => store.GetOrAssignAsync("bob", "free", [], None));

        Assert.Null(await store.FindAsync("bob", None));
    }

    [Fact]
    public async Task GetOrAssign_ManyConcurrentSignUps_BalancesAvailableGroups()
    {
        var store = await CreateInitializedStoreAsync();
        var groups = Enumerable.Range(1, 31).ToArray();

        var results = await Task.WhenAll(Enumerable.Range(0, 2000).Select(i =>
            Task.Run(() => store.GetOrAssignAsync($"user-{i:D5}", "free", groups, None))));

        Assert.All(results, r => Assert.True(r.Created));
        await AssertBalancedAsync(store, groups, expectedUsers: 2000);
        foreach (var result in results)
        {
            Assert.Equal(result.User, await store.FindAsync(result.User.Id, None));
        }
    }

    [Fact]
    public async Task GetOrAssign_TwoStoresRacingOnSameUsers_CreateEachUserOnceAndBalance()
    {
        var first = await CreateInitializedStoreAsync();
        var second = await CreateInitializedStoreAsync();
        var groups = Enumerable.Range(1, 31).ToArray();

        // Every user signs up through both stores at once.
        var results = await Task.WhenAll(Enumerable.Range(0, 1000).SelectMany(i => new[]
        {
            Task.Run(() => first.GetOrAssignAsync($"user-{i:D5}", "free", groups, None)),
            Task.Run(() => second.GetOrAssignAsync($"user-{i:D5}", "free", groups, None)),
        }));

        foreach (var pair in results.GroupBy(r => r.User.Id))
        {
            Assert.Equal(2, pair.Count());
            Assert.Single(pair, r => r.Created);
            Assert.Single(pair.Select(r => r.User).Distinct());
        }
        await AssertBalancedAsync(first, groups, expectedUsers: 1000);
    }

    [Fact]
    public async Task ImportRoundRobin_AssignsGroupsInSourceOrderAndReportsEachBatch()
    {
        var store = await CreateInitializedStoreAsync();
        int[] groups = [3, 1, 2];
        var ids = Enumerable.Range(0, 10).Select(i => $"user-{i}").ToList();
        var progress = new RecordingProgress();

        // Blank lines are not ids and take no turn.
        var result = await store.ImportRoundRobinAsync(
            Source(["", .. ids[..5], "   ", .. ids[5..]]), groups, "free", batchSize: 4, progress, None);

        Assert.Equal(new ImportResult(10, 10, 0), result);
        Assert.Equal([4L, 8L, 10L], progress.Reports);
        for (var i = 0; i < ids.Count; i++)
        {
            Assert.Equal(new UserRecord(ids[i], groups[i % 3], "free"), await store.FindAsync(ids[i], None));
        }
        Assert.Equal(new Dictionary<int, long> { [1] = 3, [2] = 3, [3] = 4 }, await store.CountUsersByGroupAsync(None));
    }

    [Fact]
    public async Task ImportRoundRobin_ExistingUsers_KeepTheirGroupButTakeTheirTurn()
    {
        var store = await CreateInitializedStoreAsync();
        await store.GetOrAssignAsync("user-2", "pro", [9], None);
        int[] groups = [1, 2];

        // user-1 repeats in the source: the repeat is skipped but still takes a turn.
        string[] source = ["user-0", "user-1", "user-2", "user-3", "user-1", "user-5"];
        var result = await store.ImportRoundRobinAsync(Source(source), groups, "free", batchSize: 2, null, None);

        Assert.Equal(new ImportResult(6, 4, 2), result);
        Assert.Equal(new UserRecord("user-2", 9, "pro"), await store.FindAsync("user-2", None));
        Assert.Equal(new UserRecord("user-0", 1, "free"), await store.FindAsync("user-0", None));
        Assert.Equal(new UserRecord("user-1", 2, "free"), await store.FindAsync("user-1", None));
        Assert.Equal(new UserRecord("user-3", 2, "free"), await store.FindAsync("user-3", None));
        Assert.Equal(new UserRecord("user-5", 2, "free"), await store.FindAsync("user-5", None));
        Assert.Equal(new Dictionary<int, long> { [1] = 1, [2] = 3, [9] = 1 }, await store.CountUsersByGroupAsync(None));
    }

    [Fact]
    public async Task ImportRoundRobin_InterruptedThenRerun_EqualsUninterruptedRun()
    {
        var store = await CreateInitializedStoreAsync();
        int[] groups = [1, 2, 3, 4, 5, 6, 7];
        var ids = Enumerable.Range(0, 250).Select(i => $"u-{(i * 7919) % 1000:D4}").ToList(); // unsorted, unique
        using var cancellation = new CancellationTokenSource();

        // Cancel in the middle of the fourth batch: three whole batches are committed, nothing of the fourth.
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.ImportRoundRobinAsync(
            CancelAfter(ids, 35, cancellation), groups, "free", batchSize: 10, null, cancellation.Token));

        Assert.Equal(30, (await store.CountUsersByGroupAsync(None)).Values.Sum());
        Assert.Equal(await ScanUsersByGroupAsync(), await store.CountUsersByGroupAsync(None));

        var rerun = await store.ImportRoundRobinAsync(Source(ids), groups, "free", batchSize: 10, null, None);

        Assert.Equal(new ImportResult(250, 220, 30), rerun);
        for (var i = 0; i < ids.Count; i++)
        {
            Assert.Equal(groups[i % groups.Length], (await store.FindAsync(ids[i], None))!.ApiKeyGroup);
        }
        var expectedCounts = ids.Select((_, i) => groups[i % groups.Length]).GroupBy(g => g)
            .ToDictionary(g => g.Key, g => (long)g.Count());
        Assert.Equal(expectedCounts, await store.CountUsersByGroupAsync(None));
    }

    [Fact]
    public async Task ImportRoundRobin_InvalidArguments_Throw()
    {
        var store = await CreateInitializedStoreAsync();

        await Assert.ThrowsAsync<ArgumentException>(() => store.ImportRoundRobinAsync(Source(["a"]), [], "free", 10, null, None));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => store.ImportRoundRobinAsync(Source(["a"]), [1], "free", 0, null, None));
    }

    [Fact]
    public async Task CountUsersByGroup_AfterMixedWrites_MatchesCountingTheUsers()
    {
        var store = await CreateInitializedStoreAsync();
        await store.ImportRoundRobinAsync(Source(Enumerable.Range(0, 95).Select(i => $"i-{i}")), [1, 2, 3], "free", 16, null, None);
        await Task.WhenAll(Enumerable.Range(0, 50).Select(i =>
            Task.Run(() => store.GetOrAssignAsync($"s-{i}", "free", [2, 3, 4], None))));
        await store.ImportRoundRobinAsync(Source(Enumerable.Range(80, 40).Select(i => $"i-{i}")), [5], "free", 7, null, None);

        var counts = await store.CountUsersByGroupAsync(None);

        Assert.Equal(await ScanUsersByGroupAsync(), counts);
        Assert.Equal(95 + 50 + 25, counts.Values.Sum());
    }

    [Fact]
    public async Task InitializeAsync_Repeated_KeepsData()
    {
        var store = await CreateInitializedStoreAsync();
        await store.GetOrAssignAsync("alice", "free", [1], None);

        await store.InitializeAsync(None);
        var other = await CreateInitializedStoreAsync();

        Assert.Equal(new UserRecord("alice", 1, "free"), await other.FindAsync("alice", None));
    }

    private async Task AssertBalancedAsync(IUserStore store, int[] groups, long expectedUsers)
    {
        var counts = await store.CountUsersByGroupAsync(None);
        var perGroup = groups.Select(g => counts.GetValueOrDefault(g)).ToList();
        Assert.Equal(expectedUsers, perGroup.Sum());
        Assert.True(perGroup.Max() - perGroup.Min() <= 1, $"Unbalanced: {string.Join(", ", perGroup)}");
        Assert.Equal(await ScanUsersByGroupAsync(), counts);
    }

    protected static async IAsyncEnumerable<string> Source(IEnumerable<string> ids)
    {
        foreach (var id in ids)
        {
            await Task.Yield();
            yield return id;
        }
    }

    private static async IAsyncEnumerable<string> CancelAfter(
        IEnumerable<string> ids, int count, CancellationTokenSource cancellation,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var yielded = 0;
        foreach (var id in ids)
        {
            if (yielded == count)
            {
                await cancellation.CancelAsync();
            }
            cancellationToken.ThrowIfCancellationRequested();
            await Task.Yield();
            yield return id;
            yielded++;
        }
    }

    private sealed class RecordingProgress : IProgress<long>
    {
        public List<long> Reports { get; } = [];

        public void Report(long value) => Reports.Add(value);
    }
}
