using KeyPool.Core.Budgets;
using KeyPool.Core.Cluster;
using KeyPool.Core.KeyHealth;
using KeyPool.Core.Keys;
using KeyPool.Core.Routing;
using Microsoft.Extensions.Time.Testing;
using Xunit.Abstractions;

namespace KeyPool.Core.Tests.Cluster;

/// <summary>
/// Two instances sharing one 60 RPM key through the in-memory ledger, on one fake clock, each asked for 2 requests a
/// second (4× the key): leasing, the ledger down (each falls back to half), the ledger back (the fallback's spends are
/// written before leasing resumes) and a ledger that lost its data (each writes its last minute again). No 61-second
/// window of what both admitted passes the key's limit, across the ledger's return too, and the key is still served.
/// </summary>
public sealed class SharedBudgetTests(ITestOutputHelper output)
{
    private const int Rpm = 60;

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 28, 12, 0, 0, TimeSpan.Zero));
    private readonly InMemoryBudgetLedger _ledger = new();
    private readonly Dictionary<long, int> _admitted = [];

    private (KeyPoolRouter Router, SharedBudgets Shared) Instance(string id)
    {
        var shared = new SharedBudgets(_ledger, new ClusterOptions { InstanceId = id }, new ClusterHealth(), _time);
        var routing = new RoutingOptions { MaxQueueWait = TimeSpan.Zero };
        var router = new KeyPoolRouter(new KeyRing([new UpstreamKey(1, "xai-test-key-00000001")]), KeySelectionPolicies.Create("StickyWithSpillover", routing, new Random(7))!,
            routing, new BudgetOptions { RequestsPerMinute = Rpm }, new KeyHealthOptions(), new Dictionary<int, GroupSettings>(), _time, shared);
        return (router, shared);
    }

    /// <summary>Runs <paramref name="seconds"/> in 100 ms steps: a round with the ledger per instance each step, a request per instance every 500 ms.</summary>
    private async Task<(int Admitted, List<RoundOutcome> Outcomes)> RunAsync(int seconds, params (KeyPoolRouter Router, SharedBudgets Shared)[] instances)
    {
        var admitted = 0;
        var outcomes = new List<RoundOutcome>();
        for (var step = 0; step < seconds * 10; step++)
        {
            foreach (var (router, shared) in instances)
            {
                if (await shared.RefreshAsync(CancellationToken.None) is { Change: not RoundChange.None } outcome)
                {
                    outcomes.Add(outcome);
                }
                if (step % 5 == 0 && router.TryAdmit(1, 0, 100) is { } admission)
                {
                    admission.Settle(100);
                    _admitted[router.Second] = _admitted.GetValueOrDefault(router.Second) + 1;
                    admitted++;
                }
            }
            _time.Advance(TimeSpan.FromMilliseconds(100));
        }
        return (admitted, outcomes);
    }

    /// <summary>The most requests admitted by all instances in any 61-second window: what the upstream counts at worst.</summary>
    private int BusiestWindow()
    {
        var best = 0;
        foreach (var start in _admitted.Keys)
        {
            best = Math.Max(best, _admitted.Where(a => a.Key >= start && a.Key < start + 61).Sum(a => a.Value));
        }
        return best;
    }

    private int AdmittedSince(long second) => _admitted.Where(a => a.Key >= second).Sum(a => a.Value);

    [Fact]
    public async Task Leasing_TwoInstances_ShareTheKey_NeverOverIt_AndSpendIt()
    {
        var a = Instance("a");
        var b = Instance("b");

        var (admitted, outcomes) = await RunAsync(125, a, b);

        output.WriteLine($"admitted {admitted}, busiest window {BusiestWindow()}");
        Assert.Empty(outcomes);
        Assert.True(BusiestWindow() <= Rpm, $"busiest window {BusiestWindow()}");
        Assert.True(admitted >= 0.9 * 2 * Rpm, $"admitted {admitted} in two minutes");
        Assert.True(_ledger.BusiestWindowRequests(a.Shared.All.Single().Key) <= Rpm);
        Assert.False(a.Shared.All.Single().OnFallback);
    }

    [Fact]
    public async Task LedgerDown_EachFallsBackToItsShare_ThenBack_TheFallbacksSpendsAreWritten_NeverOverTheKey()
    {
        var a = Instance("a");
        var b = Instance("b");
        await RunAsync(70, a, b);

        _ledger.Reachable = false;
        var downAt = a.Router.Second;
        var (admittedDown, down) = await RunAsync(125, a, b);

        Assert.Equal(RoundChange.Down, Assert.Single(down.Where(o => o.Change == RoundChange.Down).Select(o => o.Change).Distinct()));
        Assert.True(a.Shared.All.Single().OnFallback && b.Shared.All.Single().OnFallback);
        Assert.Equal(2, a.Shared.Health.Instances);
        // Each fallback starts charged with half the last known use (the leases of both are in that minute), so the
        // first minute down serves little; from the second on, each spends its half.
        var secondMinute = AdmittedSince(downAt + 62);
        Assert.True(admittedDown <= 2 * Rpm, $"admitted {admittedDown} in 125 s on the fallback");
        Assert.True(secondMinute >= 0.8 * Rpm, $"admitted {secondMinute} in the second minute on the fallback");

        _ledger.Reachable = true;
        var backAt = a.Router.Second;
        var spentBeforeBack = AdmittedSince(backAt - 61);
        var (admittedBack, back) = await RunAsync(70, a, b);

        Assert.Contains(back, o => o.Change == RoundChange.Back && !o.LedgerLost);
        Assert.False(a.Shared.All.Single().OnFallback || b.Shared.All.Single().OnFallback);
        var key = a.Shared.All.Single().Key;
        var written = Enumerable.Range(0, 61).Sum(i => _ledger.Granted(key, backAt - 61 + i).Requests);
        output.WriteLine($"down from {downAt}: {admittedDown} admitted; back: {written} written for the minute before ({spentBeforeBack} spent), {admittedBack} admitted after; busiest window {BusiestWindow()}");
        Assert.True(written >= spentBeforeBack, $"the ledger holds {written} for the minute before it came back, {spentBeforeBack} were spent");
        // Coming back, each writes its outage spends and leases only from its next round, so no lease is granted before
        // the other has written its own: the minute across the return stays within the limit.
        Assert.True(BusiestWindow() <= Rpm, $"busiest window {BusiestWindow()}");
        Assert.True(admittedBack >= 0.8 * Rpm, $"admitted {admittedBack} after the ledger came back");
    }

    [Fact]
    public async Task LedgerLostItsData_EachWritesItsLastMinuteAgain_NeverOverTheKey()
    {
        var a = Instance("a");
        var b = Instance("b");
        await RunAsync(70, a, b);
        var key = a.Shared.All.Single().Key;

        _ledger.Lose();
        var lostAt = a.Router.Second;
        var spentBefore = AdmittedSince(lostAt - 60);
        var (admitted, outcomes) = await RunAsync(70, a, b);

        var replayed = Enumerable.Range(0, 61).Sum(i => _ledger.Granted(key, lostAt - 60 + i).Requests);
        output.WriteLine($"lost at {lostAt}: {spentBefore} spent in the minute before, {replayed} written again; {admitted} admitted after; busiest window {BusiestWindow()}");
        Assert.Contains(outcomes, o => o.Change == RoundChange.Back && o.LedgerLost);
        Assert.True(replayed >= spentBefore, $"{replayed} written again of {spentBefore} spent");
        Assert.True(BusiestWindow() <= Rpm, $"busiest window {BusiestWindow()}");
        Assert.True(admitted >= 0.8 * Rpm, $"admitted {admitted} after the ledger lost its data");
    }
}
