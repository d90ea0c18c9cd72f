using KeyPool.Core.Routing;

namespace KeyPool.Core.Outcomes;

/// <summary>
/// The one place that decides what an upstream answer means for a key (the gateway's passive health
/// policy): it corrects the budget with the upstream's remaining counts, settles the reservation,
/// cools, revokes or trips the key's breaker, and says whether another key may try and what the
/// client sees. The forwarder only reports facts (<see cref="UpstreamOutcome"/>); nothing else
/// changes a key's health after a request.
/// </summary>
public sealed class UpstreamOutcomePolicy(TimeProvider time, KeyHealth.KeyHealthOptions healthOptions)
{
    /// <summary>Applies <paramref name="outcome"/> of the attempt admitted as <paramref name="admission"/>. Call exactly once per admission.</summary>
    public OutcomeVerdict Complete(in Admission admission, in UpstreamOutcome outcome)
    {
        // Settle first: the upstream's remaining counts already include this request's real cost.
        admission.Settle(SpentTokens(admission.ReservedTokens, outcome));
        if (outcome.RemainingRequests is not null || outcome.RemainingTokens is not null)
        {
            admission.Window.Observe(time.GetUtcNow().ToUnixTimeSeconds(), outcome.RemainingRequests, outcome.RemainingTokens);
        }
        var health = admission.Member.Health;
        switch (outcome.Kind)
        {
            case OutcomeKind.ClientLeft:
                health.Abandon(); // proves nothing; frees a half-open probe
                return OutcomeVerdict.Done;
            case OutcomeKind.Unreachable:
                return Failure(health.RecordFailure(), mayRetry: true, 502, "upstream_unreachable");
            case OutcomeKind.TimedOut:
                // The deadline covers every attempt: none is left for another key.
                return Failure(health.RecordFailure(), mayRetry: false, 504, "upstream_timeout");
            case OutcomeKind.BrokeMidway:
                return Failure(health.RecordFailure(), mayRetry: !outcome.ClientSawBytes, 502, "upstream_failed");
        }
        if (outcome.Status < 400)
        {
            health.RecordSuccess();
            return OutcomeVerdict.Done;
        }
        // A 429 while the upstream still reported room: it enforces a window finer than the minute; the team's burst tightens.
        var tightened = outcome.Status == 429 && admission.Window.TightenBurst(time.GetUtcNow().ToUnixTimeSeconds(), outcome.RemainingRequests, outcome.RemainingTokens);
        var verdict = Refused(admission, outcome);
        return tightened ? verdict with { BurstTightened = true } : verdict;
    }

    private OutcomeVerdict Refused(in Admission admission, in UpstreamOutcome outcome)
    {
        var status = outcome.Status;
        var message = outcome.ErrorMessage ?? "";
        var keyHealth = admission.Member.Health;
        if (status == 403)
        {
            // Not a dead key: the team may lack this model or endpoint, and any caller can ask for those. Another key may
            // serve it; this one is spared the model for a while, and only the upstream's own word (blocked) takes it out.
            admission.Member.Deny(admission.ModelId, time.GetUtcNow().ToUnixTimeSeconds() + (long)healthOptions.ModelDeniedFor.TotalSeconds);
            keyHealth.RecordSuccess();
            return new OutcomeVerdict(false, true, 403, "model_not_permitted", KeyChange.AccessDenied, Reason: "refused the model (403)");
        }
        if (UpstreamErrorText.RejectsKey(status, message))
        {
            var reason = $"rejected by the upstream ({status})";
            return new OutcomeVerdict(false, true, 502, "upstream_key_rejected", keyHealth.Revoke(reason) ? KeyChange.Revoked : KeyChange.None, Reason: reason);
        }
        if (status == 429 && UpstreamErrorText.CreditsExhausted(message))
        {
            const string reason = "credits exhausted or spending limit reached";
            return new OutcomeVerdict(false, true, 429, "upstream_credits_exhausted", keyHealth.Revoke(reason) ? KeyChange.Revoked : KeyChange.None, Reason: reason);
        }
        if (status == 429)
        {
            var wait = keyHealth.CoolDown(outcome.ResetAfter);
            return new OutcomeVerdict(false, true, 429, "rate_limit_exceeded", KeyChange.CoolingDown, wait, "rate limited by the upstream");
        }
        if (status >= 500)
        {
            return Failure(keyHealth.RecordFailure(), mayRetry: true, status, "upstream_error");
        }
        keyHealth.RecordSuccess(); // the request was wrong, not the key: another key would answer the same
        return new OutcomeVerdict(false, false, status, ErrorCodeFor(status));
    }

    private static OutcomeVerdict Failure(bool opened, bool mayRetry, int status, string code) =>
        new(false, mayRetry, status, code, opened ? KeyChange.CircuitOpened : KeyChange.Failed);

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
