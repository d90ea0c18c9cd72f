using KeyPool.Core.Budgets;
using KeyPool.Core.Cluster;
using Microsoft.Extensions.Time.Testing;
using Xunit.Abstractions;

namespace KeyPool.Core.Tests.Cluster;

/// <summary>
/// The cluster budget against the in-memory ledger on one fake clock, without the router: what each round leases,
/// what goes back, what the fallback admits while the ledger is down and what is written when it is back, in exact figures.
/// </summary>
public sealed class SharedBudgetLedgerTests(ITestOutputHelper output)
{
    private const int Rpm = 60;
    private const long Tokens = 100;

    private static readonly BudgetLimits Limits = new(Rpm, 1_000_000);

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 28, 12, 0, 0, TimeSpan.Zero));
    private readonly InMemoryBudgetLedger _ledger = new();
    private readonly Dictionary<long, int> _admitted = [];

    private long Second => _time.GetUtcNow().ToUnixTimeSeconds();

    private SharedBudgets Instance(string id) => new(_ledger, new ClusterOptions { InstanceId = id }, new ClusterHealth(), _time);

    private static SharedBudget Budget(SharedBudgets shared) => shared.For("team", Limits, 1, "grok-4");

    private static BudgetKey Key => new("team", "grok-4");

    private const int SpendLogHistory = 62;

    /// <summary>Runs <paramref name="seconds"/> in 100 ms steps: a round per instance each step, then a request per instance every 500 ms.</summary>
    private async Task<int> RunAsync(int seconds, params SharedBudgets[] instances)
    {
        var admitted = 0;
        for (var step = 0; step < seconds * 10; step++)
        {
            foreach (var shared in instances)
            {
                await shared.RefreshAsync(CancellationToken.None);
                if (step % 5 == 0 && Budget(shared).TryTake(Second, Tokens))
                {
                    _admitted[Second] = _admitted.GetValueOrDefault(Second) + 1;
                    admitted++;
                }
            }
            _time.Advance(TimeSpan.FromMilliseconds(100));
        }
        return admitted;
    }

    private int BusiestWindow() =>
        _admitted.Keys.Select(start => _admitted.Where(a => a.Key >= start && a.Key < start + 61).Sum(a => a.Value)).DefaultIfEmpty().Max();

    /// <summary>Each second: a round, then a request every <paramref name="every"/> seconds (on a miss: a round, as a wake-up does, and again).</summary>
    private async Task<int> OneEveryAsync(SharedBudgets shared, int seconds, int every)
    {
        var admitted = 0;
        for (var i = 0; i < seconds; i++)
        {
            await shared.RefreshAsync(CancellationToken.None);
            if (i % every == 0)
            {
                var taken = Budget(shared).TryTake(Second, Tokens);
                if (!taken)
                {
                    await shared.RefreshAsync(CancellationToken.None);
                    taken = Budget(shared).TryTake(Second, Tokens);
                }
                if (taken)
                {
                    _admitted[Second] = _admitted.GetValueOrDefault(Second) + 1;
                    admitted++;
                }
            }
            _time.Advance(TimeSpan.FromSeconds(1));
        }
        return admitted;
    }

    /// <summary>Asserts the ledger holds exactly what was admitted in each second of [<paramref name="from"/>, <paramref name="to"/>].</summary>
    private void AssertLedgerHoldsWhatWasAdmitted(long from, long to)
    {
        for (var s = from; s <= to; s++)
        {
            Assert.True(_admitted.GetValueOrDefault(s) == _ledger.Granted(Key, s).Requests,
                $"second {s - from} of [{from}, {to}]: {_admitted.GetValueOrDefault(s)} admitted, the ledger holds {_ledger.Granted(Key, s).Requests}");
        }
    }

    [Fact]
    public async Task Leasing_TheFirstRequestWaitsForARound_ThenEachSecondIsLeased_AndWhatWasNotSpentGoesBack()
    {
        var a = Instance("a");
        var start = Second;

        Assert.False(Budget(a).TryTake(start, Tokens)); // no lease yet: the caller wakes the round
        await a.RefreshAsync(CancellationToken.None);
        // A miss asks for a fair share of the second (the 1 a second of 60 RPM) and the next second ahead.
        Assert.Equal((1, Tokens), _ledger.Granted(Key, start));
        Assert.Equal((1, Tokens), _ledger.Granted(Key, start + 1));
        Assert.True(Budget(a).TryTake(start, Tokens));
        Assert.False(Budget(a).TryTake(start, Tokens));

        _time.Advance(TimeSpan.FromSeconds(2));
        await a.RefreshAsync(CancellationToken.None);
        Assert.Equal((0, 0), _ledger.Granted(Key, start + 1)); // the lease taken ahead and not spent went back

        // A request every 2 s for 70 s: every one served, and each past second holds exactly what was taken in it.
        _admitted.Clear();
        var admitted = await OneEveryAsync(a, 70, 2);
        Assert.Equal(35, admitted);
        AssertLedgerHoldsWhatWasAdmitted(start + 2, Second - 2);
        Assert.Equal(31, BusiestWindow());
        Assert.False(Budget(a).OnFallback);
    }

    [Fact]
    public async Task LedgerDown_TheFallbackServesItsShareLessItsPartOfTheLastUse_ThenBack_ItsSpendsAreWrittenBeforeLeasing()
    {
        var a = new SharedBudgets(_ledger, new ClusterOptions { InstanceId = "a", Instances = 2 }, new ClusterHealth(), _time);
        await OneEveryAsync(a, 70, 2);
        var lastUse = Budget(a).LastWindowUse.Requests;

        _ledger.Reachable = false;
        var downAt = Second;
        var outcome = await a.RefreshAsync(CancellationToken.None);
        Assert.Equal(RoundChange.Down, outcome.Change);
        Assert.Equal(2, outcome.Instances);
        Assert.True(Budget(a).OnFallback);
        var before = _admitted.Values.Sum();
        await RunAsync(61, a);

        // Half the 60 RPM, charged with half the last use (rounded up), spent evenly: a request at most every 2 s.
        var downMinute = _admitted.Values.Sum() - before;
        output.WriteLine($"last use {lastUse}; {downMinute} admitted in the first minute down");
        Assert.Equal(30 - ((lastUse + 1) / 2), downMinute);
        await RunAsync(30, a);

        _ledger.Reachable = true;
        var backAt = Second;
        outcome = await a.RefreshAsync(CancellationToken.None);
        Assert.Equal(RoundChange.Back, outcome.Change);
        Assert.False(outcome.LedgerLost);
        // The outage spends are written (and the leases dropped when it went down given back), second by second…
        AssertLedgerHoldsWhatWasAdmitted(backAt - SpendLogHistory, backAt);
        // …and this round leases nothing: the other instances write theirs in their round first.
        Assert.True(Budget(a).OnFallback);
        Assert.False(Budget(a).TryTake(backAt, Tokens));
        Assert.Equal(0, _ledger.Granted(Key, backAt + 1).Requests);

        _time.Advance(TimeSpan.FromMilliseconds(100));
        await a.RefreshAsync(CancellationToken.None);
        Assert.False(Budget(a).OnFallback);
        Assert.True(Budget(a).TryTake(Second, Tokens));
    }

    [Fact]
    public async Task LedgerLostItsData_TheInstanceWritesItsLastMinuteAgain_SecondBySecond()
    {
        var a = Instance("a");
        await OneEveryAsync(a, 70, 2);
        await a.RefreshAsync(CancellationToken.None);

        _ledger.Lose();
        _time.Advance(TimeSpan.FromSeconds(1)); // the next heartbeat is due
        var lostAt = Second;
        Assert.Equal(0, _ledger.BusiestWindowRequests(Key));
        var outcome = await a.RefreshAsync(CancellationToken.None);

        Assert.Equal(RoundChange.Back, outcome.Change);
        Assert.True(outcome.LedgerLost);
        Assert.False(Budget(a).OnFallback);
        AssertLedgerHoldsWhatWasAdmitted(lostAt - SpendLogHistory, lostAt - 1);
        Assert.Equal(_admitted.Where(e => e.Key >= lostAt - 61).Sum(e => e.Value), Enumerable.Range(1, 61).Sum(i => _ledger.Granted(Key, lostAt - i).Requests));
    }

    [Fact]
    public async Task TryTakeUntakeSettle_OnTheRequestPath_AllocateNothing()
    {
        var a = Instance("a");
        var budget = Budget(a);
        budget.TryTake(Second, Tokens);
        await a.RefreshAsync(CancellationToken.None);
        for (var i = 0; i < 2_000; i++)
        {
            Exercise(); // warm (the runtime may allocate once while it compiles)
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1_000; i++)
        {
            Exercise();
        }

        // One allocation per request would be 24 000 bytes or more.
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        output.WriteLine($"{allocated} bytes allocated by 1,000 take + settle + untake");
        Assert.True(allocated < 1_000);

        void Exercise()
        {
            if (budget.TryTake(Second, Tokens))
            {
                budget.Settle(Second, Tokens, Tokens - 1);
                budget.Untake(Second, Tokens - 1);
            }
        }
    }

    [Fact]
    public async Task LedgerBack_TheMinuteAcrossTheReturn_NeverAdmitsMoreThanTheLimit()
    {
        var a = Instance("a");
        var b = Instance("b");
        await RunAsync(70, a, b);
        _ledger.Reachable = false;
        await RunAsync(125, a, b);

        _ledger.Reachable = true;
        await RunAsync(70, a, b);

        output.WriteLine($"busiest window {BusiestWindow()}");
        Assert.False(Budget(a).OnFallback || Budget(b).OnFallback);
        Assert.Equal(Rpm, BusiestWindow());
    }
}
