using KeyPool.Core.Health;
using KeyPool.Core.Usage;
using Microsoft.Extensions.Time.Testing;

namespace KeyPool.Core.Tests.Health;

public sealed class PoolTotalsTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 3, 9, 0, 0, TimeSpan.Zero));

    [Fact]
    public async Task Totals_TwoInstancesOnOneStore_BothShowThePoolAfterEachFlushes()
    {
        var store = new SharedStore();
        var (a, aTotals) = Instance();
        var (b, bTotals) = Instance();
        Record(a, 1, 5);
        Record(b, 1, 7);
        Record(b, 2, 1);

        // Each sees its own unflushed requests at once, the other's once that one has flushed.
        Assert.Equal(5, aTotals.Totals(1).Requests);
        await aTotals.FlushAndRefreshAsync(store, CancellationToken.None);
        await bTotals.FlushAndRefreshAsync(store, CancellationToken.None);
        Assert.Equal(5, aTotals.Totals(1).Requests);
        Assert.Equal(12, bTotals.Totals(1).Requests);
        await aTotals.RefreshAsync(store, CancellationToken.None);
        Assert.Equal(12, aTotals.Totals(1).Requests);
        Assert.Equal(1, aTotals.Totals(2).Requests);
        Assert.Equal(0, aTotals.Totals(3).Requests);
        Assert.Equal(_time.GetUtcNow(), aTotals.AsOf);
    }

    [Fact]
    public async Task Totals_DuringAFlush_CountTheBatchOnce()
    {
        var store = new SharedStore();
        var (recorder, totals) = Instance();
        Record(recorder, 1, 3);
        await totals.FlushAndRefreshAsync(store, CancellationToken.None);
        Record(recorder, 1, 4);
        store.Hold = new TaskCompletionSource();
        var flush = totals.FlushAndRefreshAsync(store, CancellationToken.None);

        // Drained from the recorder, not yet in the store: still counted, once.
        Assert.Equal(7, totals.Totals(1).Requests);
        store.Hold.SetResult();
        await flush;
        Assert.Equal(7, totals.Totals(1).Requests);
        Assert.Equal(7, store.Read(1));
    }

    [Fact]
    public async Task Totals_StoreDown_ServeTheLastFiguresPlusOwnUsage_MarkedStale_UntilARead()
    {
        var store = new SharedStore();
        var (recorder, totals) = Instance();
        Record(recorder, 1, 2);
        await totals.FlushAndRefreshAsync(store, CancellationToken.None);
        var readAt = totals.AsOf;
        store.Down = true;
        _time.Advance(TimeSpan.FromSeconds(3));
        Record(recorder, 1, 5);

        await Assert.ThrowsAsync<InvalidOperationException>(() => totals.FlushAndRefreshAsync(store, CancellationToken.None));
        Assert.Equal(7, totals.Totals(1).Requests);
        Assert.Equal(readAt, totals.AsOf);
        Assert.Equal(_time.GetUtcNow(), totals.StaleSince);

        store.Down = false;
        await totals.FlushAndRefreshAsync(store, CancellationToken.None);
        Assert.Null(totals.StaleSince);
        Assert.Equal(7, totals.Totals(1).Requests);
        Assert.Equal(7, store.Read(1));
    }

    [Fact]
    public async Task Totals_CarryEveryCounterOfTheRecord()
    {
        var store = new SharedStore();
        var (recorder, totals) = Instance();
        recorder.Record(new UsageSample(4, 200, 10, 20, 3, 2, 30));
        recorder.Record(new UsageSample(4, 429, 0, 0, 0, 0, 0));
        await totals.FlushAndRefreshAsync(store, CancellationToken.None);
        recorder.Record(new UsageSample(4, 503, 0, 0, 0, 0, 0));

        var read = totals.Totals(4);
        Assert.Equal(3, read.Requests);
        Assert.Equal((10, 20, 3, 2, 30), (read.PromptTokens, read.CompletionTokens, read.ReasoningTokens, read.CachedTokens, read.TotalTokens));
        Assert.Equal((0, 1, 1), (read.Errors4xx, read.Errors429, read.Errors5xx));
    }

    private (UsageRecorder Recorder, PoolTotals Totals) Instance()
    {
        var recorder = new UsageRecorder(_time);
        return (recorder, new PoolTotals(recorder, _time));
    }

    private static void Record(UsageRecorder recorder, int group, int requests)
    {
        for (var i = 0; i < requests; i++)
        {
            recorder.Record(new UsageSample(group, 200, 1, 1, 0, 0, 2));
        }
    }

    /// <summary>One store several recorders flush into, as instances share one database; it can hold a write or be down.</summary>
    private sealed class SharedStore : IUsageStore
    {
        private readonly Dictionary<int, KeyGroupUsage> _rows = [];

        public TaskCompletionSource? Hold { get; set; }

        public bool Down { get; set; }

        public long Read(int group) => _rows.TryGetValue(group, out var row) ? row.Requests : 0;

        public Task InitializeAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public async Task AddAsync(IReadOnlyList<KeyGroupUsage> deltas, CancellationToken cancellationToken)
        {
            if (Hold is { } hold)
            {
                await hold.Task;
            }
            ThrowIfDown();
            foreach (var delta in deltas)
            {
                _rows[delta.Group] = _rows.TryGetValue(delta.Group, out var row) ? row.Add(delta) : delta;
            }
        }

        public Task<IReadOnlyList<KeyGroupUsage>> ReadAllAsync(CancellationToken cancellationToken)
        {
            ThrowIfDown();
            return Task.FromResult<IReadOnlyList<KeyGroupUsage>>(_rows.Values.ToArray());
        }

        private void ThrowIfDown()
        {
            if (Down)
            {
                throw new InvalidOperationException("store down");
            }
        }
    }
}
