using KeyPool.Core.Routing;

namespace KeyPool.Core.Outcomes;

/// <summary>
/// The one place that decides what an upstream answer means (the gateway's passive health policy): it
/// corrects the budget with the upstream's remaining counts, settles the reservation, and returns a
/// verdict — what the key's health must take (<see cref="KeyAction"/>: cool, revoke, count a failure …),
/// whether another key may try and what the client sees. It changes no health itself:
/// <see cref="KeyHealthUpdater.Apply"/> does. The forwarder only reports facts (<see cref="UpstreamOutcome"/>).
/// </summary>
public sealed class UpstreamOutcomePolicy(TimeProvider time, KeyHealth.KeyHealthOptions healthOptions)
{
    /// <summary>Judges <paramref name="outcome"/> of the attempt admitted as <paramref name="admission"/> and settles its budget. Call exactly once per admission.</summary>
    public OutcomeVerdict Complete(in Admission admission, in UpstreamOutcome outcome)
    {
        // Settle first: the upstream's remaining counts already include this request's real cost.
        admission.Settle(SpentTokens(admission.ReservedTokens, outcome));
        if (outcome.RemainingRequests is not null || outcome.RemainingTokens is not null)
        {
            admission.Window.Observe(time.GetUtcNow().ToUnixTimeSeconds(), outcome.RemainingRequests, outcome.RemainingTokens);
        }
        switch (outcome.Kind)
        {
            case OutcomeKind.ClientLeft:
                return OutcomeVerdict.ClientLeft; // proves nothing; frees a half-open probe
            case OutcomeKind.Unreachable:
                return Failure(mayRetry: true, 502, "upstream_unreachable");
            case OutcomeKind.TimedOut:
                // The deadline covers every attempt: none is left for another key.
                return Failure(mayRetry: false, 504, "upstream_timeout");
            case OutcomeKind.BrokeMidway:
                return Failure(mayRetry: !outcome.ClientSawBytes, 502, "upstream_failed");
        }
        if (outcome.Status < 400)
        {
            return OutcomeVerdict.Done;
        }
        // A 429 while the upstream still reported room: it enforces a window finer than the minute; the team's burst tightens.
        var tightened = outcome.Status == 429 && admission.Window.TightenBurst(time.GetUtcNow().ToUnixTimeSeconds(), outcome.RemainingRequests, outcome.RemainingTokens);
        var verdict = Refused(outcome);
        return tightened ? verdict with { BurstTightened = true } : verdict;
    }

    private OutcomeVerdict Refused(in UpstreamOutcome outcome)
    {
        var status = outcome.Status;
        var message = outcome.ErrorMessage ?? "";
        if (status == 403)
        {
            // Not a dead key: the team may lack this model or endpoint, and any caller can ask for those. Another key may
            // serve it; this one is spared the model for a while, and only the upstream's own word (blocked) takes it out.
            return new OutcomeVerdict(false, true, 403, "model_not_permitted", Reason: "refused the model (403)", Action: KeyAction.DenyModel, ResetAfter: healthOptions.ModelDeniedFor);
        }
        if (UpstreamErrorText.RejectsKey(status, message))
        {
            return new OutcomeVerdict(false, true, 502, "upstream_key_rejected", Reason: $"rejected by the upstream ({status})", Action: KeyAction.Revoke);
        }
        if (status == 429 && UpstreamErrorText.CreditsExhausted(message))
        {
            return new OutcomeVerdict(false, true, 429, "upstream_credits_exhausted", Reason: "credits exhausted or spending limit reached", Action: KeyAction.Revoke);
        }
        if (status == 429)
        {
            return new OutcomeVerdict(false, true, 429, "rate_limit_exceeded", Reason: "rate limited by the upstream", Action: KeyAction.CoolDown, ResetAfter: outcome.ResetAfter);
        }
        if (status >= 500)
        {
            return Failure(mayRetry: true, status, "upstream_error");
        }
        // The request was wrong, not the key: another key would answer the same.
        return new OutcomeVerdict(false, false, status, ErrorCodeFor(status), Action: KeyAction.Success);
    }

    private static OutcomeVerdict Failure(bool mayRetry, int status, string code) =>
        new(false, mayRetry, status, code, Action: KeyAction.Failure);


    /// <summary>What an attempt cost the upstream: its reported usage, 0 when refused or unanswered, else the <paramref name="reserved"/> estimate.</summary>
    public static long SpentTokens(long reserved, in UpstreamOutcome outcome) => outcome.Kind switch
    {
        // Refused or never answered: the upstream spent nothing on it.
        OutcomeKind.Unreachable or OutcomeKind.TimedOut => 0,
        OutcomeKind.Answered when outcome.Status >= 400 => 0,
        // Answered, or cut off: what the upstream reported, else the estimate (the cost is unknown, not zero).
        _ => outcome.Tokens ?? reserved,
    };

    private static string ErrorCodeFor(int status) => status switch
    {
        404 => "not_found",
        413 => "request_too_large",
        400 or 422 => "invalid_request",
        _ => "upstream_error",
    };
}
