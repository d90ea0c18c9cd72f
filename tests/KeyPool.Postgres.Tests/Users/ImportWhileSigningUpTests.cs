using KeyPool.Core.Users;
using KeyPool.Postgres.Tests.Infrastructure;

namespace KeyPool.Postgres.Tests.Users;

/// <summary>The round-robin import on PostgreSQL while a gateway's sign-ups go on against the same tables.</summary>
[Collection(PostgresCollection.Name)]
public sealed class ImportWhileSigningUpTests(PostgresFixture fixture) : IAsyncLifetime
{
    private static readonly CancellationToken None = CancellationToken.None;
    private TestDatabase _database = null!;

    public async Task InitializeAsync() => _database = await TestDatabase.CreateAsync(fixture);

    public async Task DisposeAsync() => await _database.DisposeAsync();

    [Fact]
    public async Task ImportRoundRobin_50kUsersWhileSignUpsGoOn_AssignmentInFileOrder_CountersExact()
    {
        var store = _database.CreateStore();
        await store.InitializeAsync(None);
        int[] groups = [1, 2, 3, 4, 5, 6, 7];
        // Random order, with repeats: a repeat keeps the group of its first turn.
        var random = new Random(20);
        var ids = Enumerable.Range(0, 50_000).Select(_ => $"user-{random.Next(0, 45_000):D6}").ToArray();
        await store.GetOrAssignAsync(ids[10], "pro", [9], None); // stored before: keeps its group
        var progress = new List<long>();

        using var stop = new CancellationTokenSource();
        var signUps = Task.Run(async () =>
        {
            var count = 0;
            while (!stop.IsCancellationRequested && count < 5_000)
            {
                await store.GetOrAssignAsync($"signup-{count++}", "free", groups, None);
            }
            return count;
        });
        var result = await store.ImportRoundRobinAsync(Source(ids), groups, "free", batchSize: 4_000, new SyncProgress(progress), None);
        await stop.CancelAsync();
        var signedUp = await signUps;

        var unique = ids.Distinct().Count();
        Assert.Equal(ids.Length, result.Read);
        Assert.Equal(unique - 1, result.Assigned);
        Assert.True(signedUp > 0, "no sign-up went through during the import");
        // The i-th id's first turn decides its group.
        var firstTurn = new Dictionary<string, int>();
        for (var i = 0; i < ids.Length; i++)
        {
            firstTurn.TryAdd(ids[i], groups[i % groups.Length]);
        }
        foreach (var id in firstTurn.Keys.Where((_, i) => i % 97 == 0))
        {
            var expected = id == ids[10] ? 9 : firstTurn[id];
            Assert.Equal(expected, (await store.FindAsync(id, None))!.ApiKeyGroup);
        }
        // The group counters are exact: what the table holds.
        var counters = await store.CountUsersByGroupAsync(None);
        Assert.Equal(unique + signedUp, counters.Values.Sum());
        Assert.Equal((long)(unique + signedUp), await _database.ScalarAsync<long>("SELECT count(*) FROM user_profiles"));
        // Progress once per committed batch.
        Assert.True(progress.Count >= ids.Length / 4_000, $"{progress.Count} progress reports");
    }

    private static async IAsyncEnumerable<string> Source(IEnumerable<string> ids)
    {
        foreach (var id in ids)
        {
            yield return id;
        }
        await Task.CompletedTask;
    }

    private sealed class SyncProgress(List<long> reports) : IProgress<long>
    {
        public void Report(long value)
        {
            lock (reports)
            {
                reports.Add(value);
            }
        }
    }
}
