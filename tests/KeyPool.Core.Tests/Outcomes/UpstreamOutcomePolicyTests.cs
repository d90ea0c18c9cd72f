using KeyPool.Core.Budgets;
using KeyPool.Core.KeyHealth;
using KeyPool.Core.Keys;
using KeyPool.Core.Outcomes;
using KeyPool.Core.Requests;
using KeyPool.Core.Routing;
using Microsoft.Extensions.Time.Testing;

namespace KeyPool.Core.Tests.Outcomes;

public sealed class UpstreamOutcomePolicyTests
{
    private const string IncorrectKey = "Incorrect API key provided: xa***yz. You can obtain an API key from the console.";
    private const string NoPermission = "The caller does not have permission to execute the specified operation";
    private const string CreditsGone = "Your team 3f2a… has either used all available credits or reached its monthly spending limit. To continue making API requests, please purchase more credits or raise your spending limit.";
    private const string RateLimited = "Too many requests: you have exceeded the rate limit for this model.";
    private const string BadArgument = "Invalid request content: messages[0].content must not be empty.";
    private const string NoModel = "The model grok-9 does not exist or your team does not have access to it.";

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 28, 12, 0, 0, TimeSpan.Zero));
    private readonly KeyPoolRouter _router;
    private readonly UpstreamOutcomePolicy _policy;
    private readonly KeyHealthUpdater _health;

    public UpstreamOutcomePolicyTests()
    {
        var routing = new RoutingOptions { MaxQueueWait = TimeSpan.Zero };
        var health = new KeyHealthOptions { BreakerFailures = 3, CooldownBase = TimeSpan.FromSeconds(1), ModelDeniedFor = TimeSpan.FromMinutes(10) };
        _router = new KeyPoolRouter(
            new KeyRing([new UpstreamKey(1, "xai-test-key-00000001"), new UpstreamKey(2, "xai-test-key-00000002")]),
            KeySelectionPolicies.Create(KeySelectionPolicies.StickyWithSpillover, routing, new Random(1))!, routing,
            new BudgetOptions { RequestsPerMinute = 600, TokensPerMinute = 100_000 },
            health, new Dictionary<int, GroupSettings>(), _time);
        _policy = new UpstreamOutcomePolicy(health);
        _health = new KeyHealthUpdater(_router, _time);
    }

    // What the request path does: the request's budget settles the attempt, the policy judges, the health updater applies.
    private OutcomeVerdict Complete(in Admission admission, in UpstreamOutcome outcome)
    {
        var budget = new RequestBudget();
        budget.Admit(admission);
        var tightened = budget.EndAttempt(outcome, _time.GetUtcNow().ToUnixTimeSeconds());
        budget.Settle();
        var verdict = _policy.Judge(outcome);
        return _health.Apply(admission, tightened ? verdict with { BurstTightened = true } : verdict);
    }

    private Admission Admit(long tokens = 500) => _router.TryAdmit(1, _router.Pool.ModelId("grok-4.3"), tokens)!.Value;

    private PoolMember Key => _router.Pool.Find(1)!;

    private long TokensUsed(Admission admission) => admission.Window.Used(_time.GetUtcNow().ToUnixTimeSeconds()).Tokens;

    // Real xAI error answers (status, message): what each means for the key and for the request.
    public static TheoryData<int, string, KeyState, bool, int, string> XaiAnswers => new()
    {
        { 400, IncorrectKey, KeyState.Revoked, true, 502, "upstream_key_rejected" },
        { 401, "Missing or invalid authorization header.", KeyState.Revoked, true, 502, "upstream_key_rejected" },
        { 403, NoPermission, KeyState.Active, true, 403, "model_not_permitted" },
        { 400, "Invalid value for 'user': the API key field must not be sent in the body.", KeyState.Active, false, 400, "invalid_request" },
        { 429, CreditsGone, KeyState.Revoked, true, 429, "upstream_credits_exhausted" },
        { 429, RateLimited, KeyState.CoolingDown, true, 429, "rate_limit_exceeded" },
        { 400, BadArgument, KeyState.Active, false, 400, "invalid_request" },
        { 404, NoModel, KeyState.Active, false, 404, "not_found" },
        { 413, "Request entity too large.", KeyState.Active, false, 413, "request_too_large" },
        { 422, "Failed to deserialize the JSON body into the target type", KeyState.Active, false, 422, "invalid_request" },
        { 500, "Internal error.", KeyState.Active, true, 500, "upstream_error" },
        { 503, "Service temporarily unavailable.", KeyState.Active, true, 503, "upstream_error" },
    };

    [Theory]
    [MemberData(nameof(XaiAnswers))]
    public void Complete_XaiErrorAnswer_JudgesKeyAndRequest(int status, string message, KeyState keyState, bool mayRetry, int clientStatus, string code)
    {
        var admission = Admit();

        var verdict = Complete(admission, new UpstreamOutcome(OutcomeKind.Answered, status, message));

        Assert.False(verdict.Succeeded);
        Assert.Equal(mayRetry, verdict.MayRetry);
        Assert.Equal(clientStatus, verdict.ClientStatus);
        Assert.Equal(code, verdict.ErrorCode);
        Assert.Equal(keyState, Key.Health.State);
        Assert.Equal(0, TokensUsed(admission)); // a refused request cost nothing
    }

    [Fact]
    public void Complete_Forbidden_SparesTheKeyTheModelForAWhile_ButKeepsItServingOthers()
    {
        var grok = _router.Pool.ModelId("grok-4.3");
        var other = _router.Pool.ModelId("grok-4-mini");

        var verdict = Complete(Admit(), new UpstreamOutcome(OutcomeKind.Answered, 403, NoPermission));

        Assert.Equal(KeyChange.AccessDenied, verdict.Change);
        Assert.Null(Key.Health.RevokedReason);
        Assert.Equal(2, _router.TryAdmit(1, grok, 1)!.Value.Member.Group); // the model goes to the other key
        Assert.Equal(1, _router.TryAdmit(1, other, 1)!.Value.Member.Group); // other models stay
        _time.Advance(TimeSpan.FromMinutes(10));
        Assert.Equal(1, _router.TryAdmit(1, grok, 1)!.Value.Member.Group);
    }

    [Fact]
    public void Complete_ForbiddenOnEveryKey_NoKeyPermitsTheModel()
    {
        var grok = _router.Pool.ModelId("grok-4.3");
        foreach (var group in new[] { 1, 2 })
        {
            var admission = _router.TryAdmit(group, grok, 1)!.Value;
            Assert.Equal(group, admission.Member.Group);
            Complete(admission, new UpstreamOutcome(OutcomeKind.Answered, 403, NoPermission));
        }

        Assert.Null(_router.TryAdmit(1, grok, 1));
        Assert.False(_router.Pool.AnyPermits(grok, _time.GetUtcNow().ToUnixTimeSeconds()));
    }

    [Fact]
    public void Complete_RevokedTwice_SaysRevokedOnce()
    {
        Assert.Equal(KeyChange.Revoked, Complete(Admit(), new UpstreamOutcome(OutcomeKind.Answered, 401, "no")).Change);
        Key.Health.RecordSuccess();
        var second = new Admission(Key, RouteReason.Sticky, Admit().Window, _time.GetUtcNow().ToUnixTimeSeconds(), 1);
        Assert.Equal(KeyChange.None, Complete(second, new UpstreamOutcome(OutcomeKind.Answered, 401, "no")).Change);
    }

    [Fact]
    public void Complete_RateLimitedWithReset_CoolsForTheReset_AndTellsTheClient()
    {
        var verdict = Complete(Admit(), new UpstreamOutcome(OutcomeKind.Answered, 429, RateLimited, ResetAfter: TimeSpan.FromSeconds(7)));

        Assert.Equal(KeyChange.CoolingDown, verdict.Change);
        Assert.Equal(TimeSpan.FromSeconds(7), verdict.CoolFor);
        _time.Advance(TimeSpan.FromSeconds(6));
        Assert.Equal(KeyState.CoolingDown, Key.Health.State);
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(KeyState.Active, Key.Health.State);
    }

    [Fact]
    public void Complete_RateLimitedWithoutReset_BacksOffDoubling()
    {
        Assert.Equal(TimeSpan.FromSeconds(1), Complete(Admit(), new UpstreamOutcome(OutcomeKind.Answered, 429, RateLimited)).CoolFor);
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(TimeSpan.FromSeconds(2), Complete(Admit(), new UpstreamOutcome(OutcomeKind.Answered, 429, RateLimited)).CoolFor);
    }

    [Fact]
    public void Complete_ServerErrors_OpenTheBreakerOnTheThird()
    {
        Assert.Equal(KeyChange.Failed, Complete(Admit(), new UpstreamOutcome(OutcomeKind.Answered, 502)).Change);
        Assert.Equal(KeyChange.Failed, Complete(Admit(), new UpstreamOutcome(OutcomeKind.Unreachable)).Change);
        var third = Complete(Admit(), new UpstreamOutcome(OutcomeKind.Answered, 500));

        Assert.Equal(KeyChange.CircuitOpened, third.Change);
        Assert.Equal(KeyState.CircuitOpen, Key.Health.State);
    }

    [Fact]
    public void Complete_Success_SettlesWhatTheUpstreamCounted_AndClosesTheBreaker()
    {
        Key.Health.RecordFailure();
        var admission = Admit(tokens: 500);

        var verdict = Complete(admission, new UpstreamOutcome(OutcomeKind.Answered, 200, Tokens: 123));

        Assert.True(verdict.Succeeded);
        Assert.Equal(123, TokensUsed(admission));
        Key.Health.RecordFailure();
        Key.Health.RecordFailure();
        Assert.Equal(KeyState.Active, Key.Health.State); // the earlier failure was forgotten
    }

    [Fact]
    public void Complete_RemainingHeaders_ChargeWhatSomeoneElseSpent()
    {
        var admission = Admit();

        Complete(admission, new UpstreamOutcome(OutcomeKind.Answered, 200, RemainingRequests: 10, RemainingTokens: 50_000, Tokens: 100));

        var (requests, tokens) = admission.Window.Used(_time.GetUtcNow().ToUnixTimeSeconds());
        Assert.Equal(590, requests);  // limit 600, the upstream has 10 left
        Assert.Equal(50_000, tokens); // limit 100,000, the upstream has 50,000 left
    }

    [Fact]
    public void Complete_Unreachable_MayRetry_AndCostsNothing()
    {
        var admission = Admit();

        var verdict = Complete(admission, new UpstreamOutcome(OutcomeKind.Unreachable));

        Assert.True(verdict.MayRetry);
        Assert.Equal((502, "upstream_unreachable"), (verdict.ClientStatus, verdict.ErrorCode));
        Assert.Equal(0, TokensUsed(admission));
    }

    [Fact]
    public void Complete_TimedOut_DoesNotRetry_TheDeadlineIsSpent()
    {
        var verdict = Complete(Admit(), new UpstreamOutcome(OutcomeKind.TimedOut));

        Assert.False(verdict.MayRetry);
        Assert.Equal((504, "upstream_timeout"), (verdict.ClientStatus, verdict.ErrorCode));
    }

    [Theory]
    [InlineData(false, true)]
    [InlineData(true, false)]
    public void Complete_BrokeMidway_RetriesOnlyWhenTheClientSawNothing(bool clientSawBytes, bool mayRetry)
    {
        var admission = Admit(tokens: 500);

        var verdict = Complete(admission, new UpstreamOutcome(OutcomeKind.BrokeMidway, 200, ClientSawBytes: clientSawBytes));

        Assert.Equal(mayRetry, verdict.MayRetry);
        Assert.Equal(500, TokensUsed(admission)); // the cost is unknown, not zero: the estimate stays
    }

    [Fact]
    public void Complete_ClientLeft_FreesTheHalfOpenProbe()
    {
        for (var i = 0; i < 3; i++)
        {
            Key.Health.RecordFailure();
        }
        _time.Advance(TimeSpan.FromSeconds(30));
        var probe = Admit(); // the one half-open probe

        var verdict = Complete(probe, new UpstreamOutcome(OutcomeKind.ClientLeft, Tokens: 40));

        Assert.True(verdict.Succeeded);
        Assert.Equal(40, TokensUsed(probe));
        Assert.True(Key.Health.TryEnter()); // the next request may probe
    }

    [Fact]
    public void Complete_429WithRoomLeftInTheMinute_TightensTheTeamsBurst_AndSaysSo()
    {
        var admission = Admit();
        var before = admission.Window.BurstRequests;

        var verdict = Complete(admission, new UpstreamOutcome(OutcomeKind.Answered, 429, RateLimited, RemainingRequests: 500, RemainingTokens: 90_000));

        Assert.True(verdict.BurstTightened);
        Assert.Equal(before / 2, admission.Window.BurstRequests);
        Assert.Equal(KeyChange.CoolingDown, verdict.Change); // still a 429: the key rests as well
    }

    [Fact]
    public void Complete_429WithTheMinuteSpent_LeavesTheBurst()
    {
        var admission = Admit();
        var before = admission.Window.BurstRequests;

        var verdict = Complete(admission, new UpstreamOutcome(OutcomeKind.Answered, 429, RateLimited, RemainingRequests: 0, RemainingTokens: 90_000));

        Assert.False(verdict.BurstTightened);
        Assert.Equal(before, admission.Window.BurstRequests);
    }

    [Fact]
    public void Policy_ChangesNoHealth_TheUpdaterAppliesItsVerdict()
    {
        var admission = Admit();

        var verdict = _policy.Judge(new UpstreamOutcome(OutcomeKind.Answered, 401, "Incorrect API key provided"));

        Assert.Equal(KeyAction.Revoke, verdict.Action);
        Assert.Equal(KeyState.Active, Key.Health.State);
        Assert.Equal(KeyChange.Revoked, _health.Apply(admission, verdict).Change);
        Assert.Equal(KeyState.Revoked, Key.Health.State);
    }
}
