using KeyPool.Configuration;
using KeyPool.Core.Outcomes;
using KeyPool.Core.Routing;
using KeyPool.Errors;
using Microsoft.Extensions.Options;

namespace KeyPool.Proxy;

/// <summary>
/// The attempts stage: per try, admit the request to a key (held by the request's budget), let the forwarder send and
/// relay it, let the request's budget settle what the attempt cost, the outcome policy say what the answer means (for the
/// key, and whether another key may try) and the health updater apply it. When no try answered, the refusal says why:
/// the last verdict's status and code, no key may use the model, or every key is at its limit.
/// </summary>
internal sealed class UpstreamAttempts(
    KeyPoolRouter router,
    UpstreamForwarder forwarder,
    UpstreamOutcomePolicy outcomes,
    KeyHealthUpdater health,
    AttemptLog attempts,
    Keys.KeyAccessProbe access,
    Core.Money.PriceTable prices,
    DeadlineSources deadlines,
    IOptions<RoutingOptions> routing,
    Telemetry.RequestObserver observer)
{
    private readonly int _maxAttempts = Math.Max(1, routing.Value.MaxAttempts);

    /// <summary>Tries keys until one answers, the outcome forbids another try, or no key has room.</summary>
    public async ValueTask<Refusal?> RunAsync(ProxyExchange exchange)
    {
        using var deadline = deadlines.Rent(forwarder.Timeout, exchange.Context.RequestAborted);
        exchange.Cancellation = deadline.Token;
        exchange.Deadline = deadline.Deadline;
        try
        {
            return await TryKeysAsync(exchange);
        }
        finally
        {
            exchange.Deadline = null;
        }
    }

    private async ValueTask<Refusal?> TryKeysAsync(ProxyExchange exchange)
    {
        var context = exchange.Context;
        var pool = exchange.Pool!;
        var plan = exchange.Plan;
        var userGroup = exchange.Group;
        var team = exchange.Stored?.Team;
        (OutcomeVerdict Verdict, ForwardResult Result, int Group)? failed = null;
        var exclude = 0;
        var usageUser = userGroup == 0 ? null : exchange.UserId; // a request of no user (GET /v1/models) is only the key's usage
        for (var attempt = 1; attempt <= _maxAttempts; attempt++)
        {
            Admission? admitted;
            observer.Admitting(exchange.Trail, attempt);
            try
            {
                admitted = await router.AdmitAsync(pool, userGroup, plan.ModelId, plan.Tokens, exclude, exchange.UserId, team, context.RequestAborted);
            }
            catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
            {
                return null; // nobody is left to tell
            }
            observer.Admitted(exchange.Trail, admitted, userGroup);
            if (admitted is not { } admission)
            {
                break;
            }
            exchange.Budget.Admit(admission);
            exchange.Attempts = attempt;
            attempts.Routed(admission, userGroup, plan, router.Policy.Name);
            exchange.Stored?.Admitted(admission.Member);
            ForwardResult result;
            observer.Forwarding(exchange.Trail, admission, exchange.Path, plan.Model, attempt);
            try
            {
                result = await forwarder.ForwardAsync(exchange, admission.Member.Key);
            }
            catch (Exception exception)
            {
                // The forwarder reports failures as facts; anything else escaping it must still settle the key, record
                // the attempt and free a half-open probe — exactly once — before it goes up.
                var kind = exchange.ClientLeft ? OutcomeKind.ClientLeft : OutcomeKind.BrokeMidway;
                var broke = new ForwardResult(new UpstreamOutcome(kind, ClientSawBytes: context.Response.HasStarted), null, null, TimeSpan.Zero, exception.GetType().Name);
                Complete(exchange, admission, broke, usageUser);
                throw;
            }
            observer.Forwarded(exchange.Trail, result, plan.Model);
            var verdict = Complete(exchange, admission, result, usageUser);
            if (verdict.Change == KeyChange.AccessDenied)
            {
                access.Request(admission.Member); // only the upstream's own word (blocked) takes the key out
            }
            if (verdict.Succeeded || result.Outcome.ClientSawBytes)
            {
                return null; // answered, or a stream that failed midway already told the client
            }
            failed = (verdict, result, admission.Member.Group);
            if (!verdict.MayRetry)
            {
                break;
            }
            exclude = admission.Member.Group;
        }
        if (failed is { } last)
        {
            if (!context.Response.HasStarted)
            {
                context.Response.Clear(); // a stream that failed before its first event left its status and headers here
            }
            return Failed(last.Verdict, last.Result, pool, last.Group);
        }
        if (!pool.AnyPermits(plan.ModelId, router.Second))
        {
            return new Refusal(403, OpenAiError.Permission, "model_not_permitted", $"No upstream key of this gateway may use the model '{plan.Model}': the upstream refused it to every key.", "model");
        }
        if (team is not null)
        {
            // A stored object lives on one team: only that team's budget can free a slot for it.
            var teamRetry = router.RetryAfterSecondsOnTeam(pool, plan.ModelId, team);
            return new Refusal(429, OpenAiError.RateLimit, "rate_limit_exceeded", $"The upstream keys that hold this stored object are at their rate limit. Retry after {teamRetry} s.", RetryAfterSeconds: teamRetry);
        }
        var retryAfter = router.RetryAfterSeconds(pool, plan.ModelId, exchange.UserId);
        return new Refusal(429, OpenAiError.RateLimit, "rate_limit_exceeded", $"Every upstream key is at its rate limit. Retry after {retryAfter} s.", RetryAfterSeconds: retryAfter);
    }

    // The end of one attempt: the budget settles the key with what it cost (a spend limit settles on the price table's
    // figure when the upstream states none), the policy judges, the health updater applies, the log writes it down.
    private OutcomeVerdict Complete(ProxyExchange exchange, in Admission admission, in ForwardResult result, string? usageUser)
    {
        var cost = result.Usage?.Cost(prices, exchange.Plan.Model);
        var tightened = exchange.Budget.EndAttempt(result.Outcome, router.Second, cost);
        var verdict = outcomes.Judge(result.Outcome);
        verdict = health.Apply(admission, tightened ? verdict with { BurstTightened = true } : verdict);
        attempts.Completed(exchange.Pool!, admission, result, verdict, forwarder.Timeout, usageUser);
        return verdict;
    }

    /// <summary>What the client sees when the last attempt failed: the verdict's status and code, with a message free of secrets.</summary>
    private Refusal Failed(in OutcomeVerdict verdict, in ForwardResult attempt, PoolSnapshot pool, int group)
    {
        var upstream = attempt.Outcome.ErrorMessage is { } raw ? SecretScrubber.Scrub(raw, pool.Ring) : null;
        var message = verdict.ErrorCode switch
        {
            "upstream_key_rejected" => $"The upstream rejected the API key of group {group} ({upstream ?? $"status {attempt.Outcome.Status}"}). The gateway operator must replace or re-enable it.",
            "upstream_unreachable" => "The upstream could not be reached.",
            "upstream_timeout" => $"The upstream did not answer within {forwarder.Timeout}.",
            "upstream_failed" => "The upstream failed before its answer was complete.",
            _ => upstream ?? $"The upstream answered {attempt.Outcome.Status}.",
        };
        int? retryAfter = verdict.CoolFor is { } wait ? (int)Math.Ceiling(Math.Max(1, wait.TotalSeconds)) : null;
        return new Refusal(verdict.ClientStatus, OpenAiError.TypeFor(verdict.ClientStatus), verdict.ErrorCode ?? "upstream_error", message, RetryAfterSeconds: retryAfter);
    }
}
