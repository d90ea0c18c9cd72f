using KeyPool.Core.Usage;
using Microsoft.Extensions.Time.Testing;

namespace KeyPool.Core.Tests.Usage;

public sealed class UsageRecorderTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 28, 12, 0, 0, TimeSpan.Zero));

    [Fact]
    public void Record_AddsTokensAndClassifiesErrors()
    {
        var recorder = new UsageRecorder(_time);
        recorder.Record(new UsageSample(3, 200, 10, 5, 7, 4, 22));
        recorder.Record(new UsageSample(3, 429));
        recorder.Record(new UsageSample(3, 400));
        recorder.Record(new UsageSample(3, 503));

        var totals = recorder.Totals(3);
        Assert.Equal(4, totals.Requests);
        Assert.Equal((10, 5, 7, 4, 22), (totals.PromptTokens, totals.CompletionTokens, totals.ReasoningTokens, totals.CachedTokens, totals.TotalTokens));
        Assert.Equal((1, 1, 1), (totals.Errors4xx, totals.Errors429, totals.Errors5xx));
        Assert.Equal(_time.GetUtcNow(), totals.LastRequestAt);
    }

    [Fact]
    public async Task FlushAsync_WritesOnlyWhatIsNew_TotalsKeepEverything()
    {
        var recorder = new UsageRecorder(_time);
        var store = new MemoryUsageStore();
        recorder.Record(new UsageSample(1, 200, 1, 1, 0, 0, 2));
        await recorder.FlushAsync(store, CancellationToken.None);
        recorder.Record(new UsageSample(1, 200, 1, 1, 0, 0, 2));
        recorder.Record(new UsageSample(2, 200, 3, 3, 0, 0, 6));
        await recorder.FlushAsync(store, CancellationToken.None);

        Assert.Equal(3, store.Batches.Sum(b => b.Sum(u => u.Requests)));
        Assert.Equal(2, store.Batches[1].Count);
        Assert.Equal(2, recorder.Totals(1).Requests);
        Assert.Equal(0, await recorder.FlushAsync(store, CancellationToken.None)); // nothing new
    }

    [Fact]
    public async Task FlushAsync_StoreFails_NothingLost_NothingDoubled()
    {
        var recorder = new UsageRecorder(_time);
        var store = new MemoryUsageStore { FailNext = true };
        recorder.Record(new UsageSample(5, 200, 10, 10, 0, 0, 20));

        await Assert.ThrowsAsync<IOException>(() => recorder.FlushAsync(store, CancellationToken.None));
        recorder.Record(new UsageSample(5, 200, 1, 1, 0, 0, 2));
        await recorder.FlushAsync(store, CancellationToken.None);

        var written = Assert.Single(Assert.Single(store.Batches));
        Assert.Equal(2, written.Requests);
        Assert.Equal(22, written.TotalTokens);
        Assert.Equal(2, recorder.Totals(5).Requests);
    }

    [Fact]
    public void LoadTotals_SeedsFromTheStore()
    {
        var recorder = new UsageRecorder(_time);
        recorder.LoadTotals([KeyGroupUsage.Zero(2) with { Requests = 100, TotalTokens = 5000 }]);
        recorder.Record(new UsageSample(2, 200, 1, 1, 0, 0, 2));

        Assert.Equal(101, recorder.Totals(2).Requests);
        Assert.Equal(5002, recorder.Totals(2).TotalTokens);
    }

    [Fact]
    public async Task Record_Concurrently_CountsEveryRequestOnce()
    {
        var recorder = new UsageRecorder(_time);
        var store = new MemoryUsageStore();
        var flushing = Task.Run(async () =>
        {
            for (var i = 0; i < 200; i++)
            {
                await recorder.FlushAsync(store, CancellationToken.None);
            }
        });
        await Task.WhenAll(Enumerable.Range(0, 4).Select(t => Task.Run(() =>
        {
            for (var i = 0; i < 25_000; i++)
            {
                recorder.Record(new UsageSample(i % 40 + 1, 200, 1, 1, 0, 0, 2));
            }
        })));
        await flushing;
        await recorder.FlushAsync(store, CancellationToken.None);

        Assert.Equal(100_000, store.Batches.Sum(b => b.Sum(u => u.Requests)));
        Assert.Equal(200_000, store.Batches.Sum(b => b.Sum(u => u.TotalTokens)));
        Assert.Equal(100_000, Enumerable.Range(1, 40).Sum(g => recorder.Totals(g).Requests));
    }

    private sealed class MemoryUsageStore : IUsageStore
    {
        public List<IReadOnlyList<KeyGroupUsage>> Batches { get; } = [];

        public bool FailNext { get; set; }

        public Task InitializeAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task AddAsync(IReadOnlyList<KeyGroupUsage> deltas, CancellationToken cancellationToken)
        {
            if (FailNext)
            {
                FailNext = false;
                throw new IOException("disk full");
            }
            Batches.Add(deltas);
            return Task.CompletedTask;
        }

        public Task<IReadOnlyList<KeyGroupUsage>> ReadAllAsync(CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<KeyGroupUsage>>([]);
    }

    [Fact]
    public void Counters_TokensWithoutARequest_StillPending()
    {
        // What a drain racing a Record leaves behind: the request taken, its tokens not yet.
        var counters = new UsageCounters(2);
        counters.Add(new KeyGroupUsage(2, 0, 0, 0, 0, 0, 100, 0, 0, 0, null));

        Assert.True(counters.HasPending);
        Assert.Equal(100, counters.Drain().TotalTokens);
        Assert.False(counters.HasPending);
    }

    [Fact]
    public async Task Flush_RacingRecords_LosesNoToken()
    {
        var recorder = new UsageRecorder(_time);
        var store = new SummingStore();
        const int Writers = 4, PerWriter = 20_000;
        var writers = Enumerable.Range(0, Writers).Select(_ => Task.Run(() =>
        {
            for (var i = 0; i < PerWriter; i++)
            {
                recorder.Record(new UsageSample(1, 200, 1, 1, 0, 0, 2));
            }
        })).ToArray();
        while (!writers.All(w => w.IsCompleted))
        {
            await recorder.FlushAsync(store, CancellationToken.None);
        }
        await recorder.FlushAsync(store, CancellationToken.None); // the shutdown flush

        Assert.Equal(Writers * PerWriter, store.Requests);
        Assert.Equal(2L * Writers * PerWriter, store.Tokens);
    }

    private sealed class SummingStore : IUsageStore
    {
        public long Requests;
        public long Tokens;

        public Task InitializeAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task AddAsync(IReadOnlyList<KeyGroupUsage> deltas, CancellationToken cancellationToken)
        {
            foreach (var delta in deltas)
            {
                Requests += delta.Requests;
                Tokens += delta.TotalTokens;
            }
            return Task.CompletedTask;
        }

        public Task<IReadOnlyList<KeyGroupUsage>> ReadAllAsync(CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<KeyGroupUsage>>([]);
    }
}
