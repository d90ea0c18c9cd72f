using KeyPool.Core.Budgets;
using KeyPool.Core.Cluster;
using KeyPool.Core.KeyHealth;
using KeyPool.Core.Keys;
using KeyPool.Core.Limits;
using KeyPool.Core.Outcomes;
using KeyPool.Core.Requests;
using KeyPool.Core.Routing;
using Microsoft.Extensions.Time.Testing;
using Xunit.Abstractions;

namespace KeyPool.Core.Tests.Requests;

/// <summary>
/// One request's budget on a fake clock: the tier's reservation (a day limit of tokens, probed exactly), the spend
/// reservation (a day limit in ticks, probed exactly), and each attempt's key (its window and, in a cluster, its lease of
/// the in-memory ledger), each settled once with what the upstream really spent.
/// </summary>
public sealed class RequestBudgetTests
{
    private const long TierTokensPerDay = 10_000;
    private const long SpendTicksPerDay = 10_000;
    private const string User = "u1";

    private static readonly UserLimits Tier = new(TokensPerDay: TierTokensPerDay);
    private static readonly SpendLimits Spend = new(TicksPerDay: SpendTicksPerDay);

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 28, 12, 0, 0, TimeSpan.Zero));
    private readonly InMemoryBudgetLedger _ledger = new();
    private readonly UserLimiter _users;
    private readonly SpendLimiter _spends;
    private readonly ITestOutputHelper _output;

    public RequestBudgetTests(ITestOutputHelper output)
    {
        _output = output;
        _users = new UserLimiter(100, _time);
        _spends = new SpendLimiter(100, _time);
    }

    private long Second => _time.GetUtcNow().ToUnixTimeSeconds();

    private KeyPoolRouter Router(SharedBudgets? shared = null)
    {
        var routing = new RoutingOptions { MaxQueueWait = TimeSpan.Zero };
        return new KeyPoolRouter(
            new KeyRing([new UpstreamKey(1, "xai-test-key-00000001"), new UpstreamKey(2, "xai-test-key-00000002")]),
            KeySelectionPolicies.Create(KeySelectionPolicies.StickyWithSpillover, routing, new Random(1))!, routing,
            new BudgetOptions { RequestsPerMinute = 600, TokensPerMinute = 1_000_000 },
            new KeyHealthOptions(), new Dictionary<int, GroupSettings>(), _time, shared);
    }

    // A request admitted by the tier's limits, reserving the estimate in tokens and in ticks.
    private RequestBudget Reserved(long tokens, long ticks)
    {
        var budget = new RequestBudget();
        budget.Reserve(_users.TryAcquire(User, Tier, tokens).Reservation);
        budget.Reserve(_spends.TryAcquire(User, Spend, ticks).Reservation!);
        return budget;
    }

    // The tier's day total, exactly: a request of what is left fits, one token more does not (a refusal reserves nothing);
    // with nothing counted, a request of any size fits.
    private void AssertTierCharged(long tokens)
    {
        var over = _users.TryAcquire(User, Tier, TierTokensPerDay - tokens + 1);
        over.Reservation.Settle(0);
        Assert.Equal(tokens == 0, over.Admitted);
        var fits = _users.TryAcquire(User, Tier, TierTokensPerDay - tokens);
        Assert.True(fits.Admitted);
        fits.Reservation.Settle(0);
    }

    private void AssertSpendCharged(long ticks)
    {
        var over = _spends.TryAcquire(User, Spend, SpendTicksPerDay - ticks + 1);
        over.Reservation?.Settle(0);
        Assert.Equal(ticks == 0, over.Admitted);
        var fits = _spends.TryAcquire(User, Spend, SpendTicksPerDay - ticks);
        Assert.True(fits.Admitted);
        fits.Reservation!.Settle(0);
    }

    private static (long Requests, long Tokens) Held(in Admission admission) => admission.Window.Reserved;

    [Fact]
    public async Task Settle_ChargesTheRealUsageOnce_ToTheTierTheSpendTheKeyWindowAndTheLease()
    {
        var shared = new SharedBudgets(_ledger, new ClusterOptions { InstanceId = "a" }, new ClusterHealth(), _time);
        var router = Router(shared);
        var model = router.Pool.ModelId("grok-4.3");
        Admission? admitted = null;
        for (var round = 0; round < 3 && admitted is null; round++)
        {
            await shared.RefreshAsync(CancellationToken.None); // the first request finds no lease yet: a round leases one
            admitted = router.TryAdmit(1, model, 3_000);
        }
        var admission = Assert.NotNull(admitted);
        Assert.NotNull(admission.Lease);
        var budget = Reserved(3_000, 3_000);

        budget.Admit(admission);
        Assert.False(budget.EndAttempt(new UpstreamOutcome(OutcomeKind.Answered, 200, Tokens: 1_200), Second, costTicks: 500));
        var usage = budget.Settle();

        Assert.Equal(new RequestUsage(1_200, 500, CostStated: true), usage);
        Assert.Equal(1_200, admission.Window.Used(Second).Tokens);
        Assert.Equal((0, 0), Held(admission));
        AssertTierCharged(1_200);
        AssertSpendCharged(500);
        var spentAt = admission.Second;
        _time.Advance(TimeSpan.FromSeconds(2));
        await shared.RefreshAsync(CancellationToken.None);
        Assert.Equal((1, 1_200), _ledger.Granted(admission.Lease.Key, spentAt)); // what was reserved and not spent went back
    }

    [Fact]
    public void FailedAttemptThenServed_TheFirstKeyGetsItsPartBack_TheTierIsChargedOnceWithTheRealUsage()
    {
        var router = Router();
        var model = router.Pool.ModelId("grok-4.3");
        var budget = Reserved(2_000, 2_000);
        var first = router.TryAdmit(1, model, 2_000)!.Value;

        budget.Admit(first);
        budget.EndAttempt(new UpstreamOutcome(OutcomeKind.Answered, 500, "Internal error."), Second);
        Assert.Equal((0, 0), Held(first));
        Assert.Equal(0, first.Window.Used(Second).Tokens); // the upstream spent nothing on it
        var second = router.TryAdmit(1, model, 2_000, excludeGroup: first.Member.Group)!.Value;
        Assert.NotEqual(first.Member.Group, second.Member.Group);
        budget.Admit(second);
        budget.EndAttempt(new UpstreamOutcome(OutcomeKind.Answered, 200, Tokens: 700), Second, costTicks: 90);
        var usage = budget.Settle();

        Assert.Equal(new RequestUsage(700, 90, CostStated: true), usage);
        Assert.Equal(700, second.Window.Used(Second).Tokens);
        Assert.Equal((0, 0), Held(second));
        AssertTierCharged(700);
        AssertSpendCharged(90);
    }

    [Fact]
    public void Admit_WhileAnAttemptHoldsAKey_Throws_ItMustBeEndedFirst()
    {
        var router = Router();
        var budget = new RequestBudget();
        budget.Admit(router.TryAdmit(1, 0, 10)!.Value);

        Assert.Throws<InvalidOperationException>(() => budget.Admit(router.TryAdmit(1, 0, 10)!.Value));
    }

    [Theory]
    [InlineData(OutcomeKind.Unreachable, 0)]
    [InlineData(OutcomeKind.TimedOut, 0)]
    [InlineData(OutcomeKind.Answered, 429)]
    [InlineData(OutcomeKind.Answered, 400)]
    public void RefusedOrUnanswered_CostsNothing_Anywhere(OutcomeKind kind, int status)
    {
        var router = Router();
        var budget = Reserved(2_000, 2_000);
        var admission = router.TryAdmit(1, 0, 2_000)!.Value;

        budget.Admit(admission);
        budget.EndAttempt(new UpstreamOutcome(kind, status), Second);
        var usage = budget.Settle();

        Assert.Equal(new RequestUsage(0, 0, CostStated: false), usage);
        Assert.Equal(0, admission.Window.Used(Second).Tokens);
        AssertTierCharged(0);
        AssertSpendCharged(0);
    }

    [Theory]
    [InlineData(40L, 40L)]     // the client left after the usage chunk: what the upstream reported
    [InlineData(null, 2_000L)] // before it: the cost is unknown, not zero — the estimate stands
    public void ClientGone_ChargesWhatTheUpstreamReported_ElseTheEstimate(long? reported, long charged)
    {
        var router = Router();
        var budget = Reserved(2_000, 3_000);
        var admission = router.TryAdmit(1, 0, 2_000)!.Value;

        budget.Admit(admission);
        budget.EndAttempt(new UpstreamOutcome(OutcomeKind.ClientLeft, 200, ClientSawBytes: true, Tokens: reported), Second);
        var usage = budget.Settle();

        Assert.Equal((charged, 3_000L, false), (usage.Tokens, usage.CostTicks, usage.CostStated)); // no stated cost: the spend keeps its estimate
        Assert.Equal(charged, admission.Window.Used(Second).Tokens);
        AssertTierCharged(charged);
        AssertSpendCharged(3_000);
    }

    [Fact]
    public void AttemptNeverEnded_TheRequestsSettleReturnsTheKeyWithItsEstimate()
    {
        var router = Router();
        var budget = Reserved(2_000, 2_000);
        var admission = router.TryAdmit(1, 0, 2_000)!.Value;
        budget.Admit(admission); // then an error before the attempt could end

        var usage = budget.Settle();

        Assert.Equal(2_000, usage.Tokens);
        Assert.Equal((0, 0), Held(admission));
        Assert.Equal(2_000, admission.Window.Used(Second).Tokens);
        AssertTierCharged(2_000);
    }

    [Fact]
    public void SettleTwice_AndEndAttemptAgain_SettleNothingMore()
    {
        var router = Router();
        var budget = Reserved(2_000, 2_000);
        var admission = router.TryAdmit(1, 0, 2_000)!.Value;
        budget.Admit(admission);
        var outcome = new UpstreamOutcome(OutcomeKind.Answered, 200, Tokens: 300);
        budget.EndAttempt(outcome, Second, costTicks: 30);
        var first = budget.Settle();

        Assert.False(budget.EndAttempt(outcome, Second, costTicks: 30));
        var again = budget.Settle();

        Assert.Equal(first, again);
        Assert.True(budget.IsSettled);
        Assert.Equal((0, 0), Held(admission)); // a second settle would leave -1 open reservations here
        Assert.Equal(300, admission.Window.Used(Second).Tokens);
        AssertTierCharged(300);
        AssertSpendCharged(30);
        Assert.Throws<InvalidOperationException>(() => budget.Admit(admission));
    }

    [Fact]
    public void NoAttempt_RefusedBeforeAnyKey_TheTierAndSpendGetEverythingBack()
    {
        var budget = Reserved(2_000, 2_000);

        Assert.Equal(new RequestUsage(0, 0, CostStated: false), budget.Settle());

        AssertTierCharged(0);
        AssertSpendCharged(0);
    }

    [Fact]
    public void LimitChangedWhileInFlight_TheRealCostSettlesIntoTheNewWindow()
    {
        var router = Router();
        var model = router.Pool.ModelId("grok-4.3");
        var admission = router.TryAdmit(1, model, 5_000)!.Value;
        var budget = new RequestBudget();
        budget.Admit(admission);
        _time.Advance(TimeSpan.FromSeconds(3));
        var member = admission.Member;

        router.State.Budgets.For(member.Team, member.Limits with { TokensPerMinute = 2_000_000 }); // a reload changed the team's limits
        var replaced = router.Pool.Window(member, model);
        Assert.NotSame(admission.Window, replaced);
        Assert.Equal(5_000, replaced.Used(Second).Tokens); // the new window carries what the old one held
        budget.EndAttempt(new UpstreamOutcome(OutcomeKind.Answered, 200, Tokens: 800), Second);
        budget.Settle();

        Assert.Equal(800, replaced.Used(Second).Tokens); // not the estimate: the correction reached the window in use
        _time.Advance(TimeSpan.FromSeconds(61));
        Assert.Equal(0, replaced.Used(Second).Tokens);
    }

    [Fact]
    public void Reserve_TwiceForTheTier_Throws_TheFirstWouldNeverBeSettled()
    {
        var budget = Reserved(10, 10);

        Assert.Throws<InvalidOperationException>(() => budget.Reserve(_users.TryAcquire(User, Tier, 10).Reservation));
        Assert.Throws<InvalidOperationException>(() => budget.Reserve(_spends.TryAcquire(User, Spend, 10).Reservation!));
    }

    [Fact]
    public void AdmitEndSettle_AllocatesNothing()
    {
        var router = Router();
        var model = router.Pool.ModelId("grok-4.3");
        var perMinute = new UserLimits(RequestsPerMinute: 1_000_000, TokensPerMinute: 1_000_000_000);
        var outcome = new UpstreamOutcome(OutcomeKind.Answered, 200, RemainingRequests: 500, RemainingTokens: 900_000, Tokens: 90);
        var served = 0;
        // Made once, not per request: the user's counter, the team's window, and whatever a path first taken later makes
        // (a new minute, a new day's counts), so a first pass over the same 200 s of the clock.
        for (var i = 0; i < 1_000; i++)
        {
            _time.Advance(TimeSpan.FromMilliseconds(200));
            Exercise();
        }

        // Three rounds, the least counted: an allocation per request shows in every round, while a one-off one (a shared
        // pool's array dropped by a collection another test caused, a table grown) lands in one round only.
        var rounds = new long[3];
        for (var round = 0; round < rounds.Length; round++)
        {
            for (var i = 0; i < 1_000; i++)
            {
                _time.Advance(TimeSpan.FromMilliseconds(200)); // 5 a second: within the key's 600 a minute
                var before = GC.GetAllocatedBytesForCurrentThread(); // the clock's timers firing are not the request's
                Exercise();
                rounds[round] += GC.GetAllocatedBytesForCurrentThread() - before;
            }
        }
        var allocated = rounds.Min();

        // One allocation per request would be 24,000 bytes or more; a few one-off ones stay far below.
        _output.WriteLine($"{string.Join(", ", rounds)} bytes allocated by 1,000 reserve + admit + end + settle, in each of three rounds");
        Assert.Equal(4_000, served);
        Assert.True(allocated < 4_000, $"{allocated} bytes");

        void Exercise()
        {
            var budget = new RequestBudget();
            budget.Reserve(_users.TryAcquire(User, perMinute, 100).Reservation);
            if (router.TryAdmit(1, model, 100) is { } admission)
            {
                budget.Admit(admission);
                budget.EndAttempt(outcome, Second, costTicks: 5);
                served++;
            }
            budget.Settle();
        }
    }
}
