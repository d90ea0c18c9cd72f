using KeyPool.Core.Usage;
using Microsoft.Extensions.Time.Testing;

namespace KeyPool.Core.Tests.Usage;

public sealed class UserUsageRecorderTests
{
    private static readonly DateOnly Day = new(2026, 11, 28);
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 28, 23, 0, 0, TimeSpan.Zero));

    [Fact]
    public void Record_SameUserAndDay_AddsUpPerUser()
    {
        var recorder = new UserUsageRecorder(_time);

        recorder.Record("u1", new UsageSample(1, 200, 10, 5, 2, 4, 17));
        recorder.Record("u1", new UsageSample(3, 200, 1, 1, 0, 0, 2));
        recorder.Record("u2", new UsageSample(1, 200, 7, 0, 0, 0, 7));

        Assert.Equal(new UserDayUsage("u1", Day, 2, 11, 6, 2, 4, 19), recorder.PendingToday("u1"));
        Assert.Equal(new UserDayUsage("u2", Day, 1, 7, 0, 0, 0, 7), recorder.PendingToday("u2"));
        Assert.Equal(2, recorder.PendingRows);
    }

    [Fact]
    public void Record_ErrorAnswer_CountsTokensNotARequest_AndNothingHoldsNoRow()
    {
        var recorder = new UserUsageRecorder(_time);

        recorder.Record("u1", new UsageSample(1, 500, 3, 0, 0, 0, 3)); // broke midway after usage
        recorder.Record("u2", new UsageSample(1, 429));

        Assert.Equal(new UserDayUsage("u1", Day, 0, 3, 0, 0, 0, 3), recorder.PendingToday("u1"));
        Assert.Equal(1, recorder.PendingRows);
    }

    [Fact]
    public async Task FlushAsync_WritesEachRowOnce_OneRowPerUserPerDay()
    {
        var recorder = new UserUsageRecorder(_time);
        var store = new MemoryUserUsageStore();
        recorder.Record("u1", new UsageSample(1, 200, 1, 1, 0, 0, 2));
        _time.Advance(TimeSpan.FromHours(2)); // the next UTC day
        recorder.Record("u1", new UsageSample(1, 200, 2, 2, 0, 0, 4));

        Assert.Equal(2, await recorder.FlushAsync(store, CancellationToken.None));
        Assert.Equal(0, await recorder.FlushAsync(store, CancellationToken.None));

        Assert.Equal([new UserDayUsage("u1", Day, 1, 1, 1, 0, 0, 2), new UserDayUsage("u1", Day.AddDays(1), 1, 2, 2, 0, 0, 4)],
            await store.ReadUserAsync("u1", Day, Day.AddDays(1), CancellationToken.None));
    }

    [Fact]
    public async Task FlushAsync_IdleForAnInterval_LeavesTheTable()
    {
        var recorder = new UserUsageRecorder(_time);
        var store = new MemoryUserUsageStore();
        recorder.Record("u1", new UsageSample(1, 200, 1, 1, 0, 0, 2));

        await recorder.FlushAsync(store, CancellationToken.None);
        Assert.Equal(1, recorder.PendingRows); // kept one interval: an active user does not allocate every second
        await recorder.FlushAsync(store, CancellationToken.None);

        Assert.Equal(0, recorder.PendingRows);
        recorder.Record("u1", new UsageSample(1, 200, 1, 1, 0, 0, 2));
        await recorder.FlushAsync(store, CancellationToken.None);
        Assert.Equal(2, Assert.Single(await store.ReadUserAsync("u1", Day, Day, CancellationToken.None)).Requests);
    }

    [Fact]
    public async Task FlushAsync_StoreDown_KeepsRowsAndWritesThemWhenBack()
    {
        var recorder = new UserUsageRecorder(_time);
        var store = new MemoryUserUsageStore { Down = true };
        recorder.Record("u1", new UsageSample(1, 200, 1, 1, 0, 0, 2));

        await Assert.ThrowsAsync<InvalidOperationException>(() => recorder.FlushAsync(store, CancellationToken.None));
        await Assert.ThrowsAsync<InvalidOperationException>(() => recorder.FlushAsync(store, CancellationToken.None));
        recorder.Record("u1", new UsageSample(1, 200, 1, 1, 0, 0, 2));
        Assert.Equal(2, recorder.PendingToday("u1").Requests);
        store.Down = false;
        await recorder.FlushAsync(store, CancellationToken.None);

        Assert.Equal(new UserDayUsage("u1", Day, 2, 2, 2, 0, 0, 4), Assert.Single(await store.ReadUserAsync("u1", Day, Day, CancellationToken.None)));
    }

    [Fact]
    public async Task FlushAsync_Backlog_WritesInKeyOrderedChunks_AndAFailedChunkAndLaterOnesStayPending()
    {
        var recorder = new UserUsageRecorder(_time);
        var users = UserUsageRecorder.ChunkRows * 2 + 10;
        for (var i = 0; i < users; i++)
        {
            recorder.Record($"u{i:D7}", new UsageSample(1, 200, 1, 0, 0, 0, 1));
        }
        var store = new MemoryUserUsageStore { FailAfterBatches = 1 };

        await Assert.ThrowsAsync<InvalidOperationException>(() => recorder.FlushAsync(store, CancellationToken.None));

        var first = Assert.Single(store.Batches);
        Assert.Equal(UserUsageRecorder.ChunkRows, first.Count);
        Assert.Equal(first.OrderBy(r => r.UserId, StringComparer.Ordinal).Select(r => r.UserId), first.Select(r => r.UserId));
        Assert.Equal(0, recorder.PendingToday(first[^1].UserId).Requests); // committed
        Assert.Equal(1, recorder.PendingToday($"u{users - 1:D7}").Requests); // put back
        store.FailAfterBatches = null;
        await recorder.FlushAsync(store, CancellationToken.None);
        Assert.Equal(users, store.Rows.Count);
        Assert.Equal(users, store.Rows.Values.Sum(r => r.Requests));
    }

    [Fact]
    public async Task Record_TableFull_DropsNewUsersOnly_AndAFailedFlushPutsEverythingBack()
    {
        var recorder = new UserUsageRecorder(_time, maxPendingRows: 2);
        var store = new MemoryUserUsageStore { Down = true };
        recorder.Record("u1", new UsageSample(1, 200, 1, 0, 0, 0, 1));
        recorder.Record("u2", new UsageSample(1, 200, 1, 0, 0, 0, 1));

        recorder.Record("u3", new UsageSample(1, 200, 5, 0, 0, 0, 5));
        recorder.Record("u1", new UsageSample(1, 200, 1, 0, 0, 0, 1));
        await Assert.ThrowsAsync<InvalidOperationException>(() => recorder.FlushAsync(store, CancellationToken.None));

        Assert.Equal((1L, 5L), (recorder.DroppedRequests, recorder.DroppedTokens));
        Assert.Equal(2, recorder.PendingRows);
        Assert.Equal(2, recorder.PendingToday("u1").Requests);
        Assert.Equal(0, recorder.PendingToday("u3").Requests);
    }

    [Fact]
    public async Task ReadUserAsync_StoredPlusPending_ExactAndOldestFirst()
    {
        var recorder = new UserUsageRecorder(_time);
        var store = new MemoryUserUsageStore();
        await store.AddAsync([new UserDayUsage("u1", Day.AddDays(-3), 4, 40, 0, 0, 0, 40), new UserDayUsage("u1", Day, 1, 10, 0, 0, 0, 10)], CancellationToken.None);
        recorder.Record("u1", new UsageSample(1, 200, 5, 0, 0, 0, 5));
        recorder.Record("u2", new UsageSample(1, 200, 5, 0, 0, 0, 5));

        var rows = await recorder.ReadUserAsync(store, "u1", Day.AddDays(-29), Day, CancellationToken.None);

        Assert.Equal([new UserDayUsage("u1", Day.AddDays(-3), 4, 40, 0, 0, 0, 40), new UserDayUsage("u1", Day, 2, 15, 0, 0, 0, 15)], rows);
    }

    [Fact]
    public async Task ReadDayCostAsync_StoredPlusPendingOfThatDay_EveryUser_AndAFlushChangesNothing()
    {
        var recorder = new UserUsageRecorder(_time);
        var store = new MemoryUserUsageStore();
        await store.AddAsync([new UserDayUsage("u1", Day, 1, 1, 0, 0, 0, 1, 1_000), new UserDayUsage("u9", Day.AddDays(-1), 1, 1, 0, 0, 0, 1, 50_000)], CancellationToken.None);
        recorder.Record("u1", new UsageSample(1, 200, 5, 0, 0, 0, 5, CostTicks: 200));
        recorder.Record("u2", new UsageSample(2, 200, 5, 0, 0, 0, 5, CostTicks: 30, CostEstimated: true));

        Assert.Equal(1_230, await recorder.ReadDayCostAsync(store, Day, CancellationToken.None));
        await recorder.FlushAsync(store, CancellationToken.None);
        Assert.Equal(1_230, await recorder.ReadDayCostAsync(store, Day, CancellationToken.None));
        Assert.Equal(50_000, await recorder.ReadDayCostAsync(store, Day.AddDays(-1), CancellationToken.None));
    }

    [Fact]
    public void Counters_TokensWithoutARequest_StillPending()
    {
        var counters = new UserUsageCounters();
        counters.Add(new UserDayUsage("u1", Day, 0, 0, 0, 0, 0, 3));

        Assert.True(counters.HasPending);
    }

    [Fact]
    public async Task Flush_RacingRecords_LosesNoToken()
    {
        var recorder = new UserUsageRecorder(_time);
        var store = new MemoryUserUsageStore();
        const int Writers = 4, PerWriter = 20_000, Users = 50;
        var writers = Enumerable.Range(0, Writers).Select(w => Task.Run(() =>
        {
            for (var i = 0; i < PerWriter; i++)
            {
                // Bursts per user, so entries go idle, retire and come back while writers still hold them.
                recorder.Record($"u{(i / 100 + w) % Users}", new UsageSample(1, 200, 1, 1, 0, 0, 2));
            }
        })).ToArray();
        while (!writers.All(w => w.IsCompleted))
        {
            await recorder.FlushAsync(store, CancellationToken.None);
        }
        await recorder.FlushAsync(store, CancellationToken.None);
        await recorder.FlushAsync(store, CancellationToken.None);

        var rows = store.Rows.Values;
        Assert.Equal(Writers * PerWriter, rows.Sum(r => r.Requests));
        Assert.Equal(2L * Writers * PerWriter, rows.Sum(r => r.TotalTokens));
        Assert.Equal(Writers * PerWriter, rows.Sum(r => r.PromptTokens));
        Assert.Equal(0, recorder.PendingRows);
    }

    /// <summary>The contract's semantics in a dictionary, with a switch that makes every write fail.</summary>
    private sealed class MemoryUserUsageStore : IUserUsageStore
    {
        public Dictionary<(string, DateOnly), UserDayUsage> Rows { get; } = [];

        public bool Down { get; set; }

        /// <summary>Fail every call after this many successful ones.</summary>
        public int? FailAfterBatches { get; set; }

        public List<IReadOnlyList<UserDayUsage>> Batches { get; } = [];

        public Task AddAsync(IReadOnlyList<UserDayUsage> deltas, CancellationToken cancellationToken)
        {
            if (Down || Batches.Count >= FailAfterBatches)
            {
                throw new InvalidOperationException("store down");
            }
            Batches.Add([.. deltas]);
            foreach (var delta in deltas)
            {
                Rows[(delta.UserId, delta.Day)] = Rows.TryGetValue((delta.UserId, delta.Day), out var row) ? UserUsageSums.Add(row, delta) : delta;
            }
            return Task.CompletedTask;
        }

        public Task<IReadOnlyList<UserDayUsage>> ReadUserAsync(string userId, DateOnly from, DateOnly to, CancellationToken cancellationToken) =>
            Task.FromResult<IReadOnlyList<UserDayUsage>>(Rows.Values.Where(r => r.UserId == userId && r.Day >= from && r.Day <= to).OrderBy(r => r.Day).ToList());

        public Task<IReadOnlyList<UserDayUsage>> TopAsync(DateOnly day, UserUsageOrder by, int count, CancellationToken cancellationToken) =>
            throw new NotSupportedException();

        public Task<long> DayCostAsync(DateOnly day, CancellationToken cancellationToken) =>
            Down ? throw new InvalidOperationException("store down") : Task.FromResult(Rows.Values.Where(r => r.Day == day).Sum(r => r.CostTicks));

        public IAsyncEnumerable<UserDayUsage> ExportDayAsync(DateOnly day, CancellationToken cancellationToken) =>
            throw new NotSupportedException();
    }
}
