namespace KeyPool.Core.Outcomes;

/// <summary>
/// The one place that decides what an upstream answer means (the gateway's passive health policy): it returns a
/// verdict — what the key's health must take (<see cref="KeyAction"/>: cool, revoke, count a failure …), whether another
/// key may try and what the client sees. It changes nothing itself: <see cref="KeyHealthUpdater.Apply"/> applies the
/// verdict to the key's health, and the request's budget settles what the attempt cost. The forwarder only reports facts
/// (<see cref="UpstreamOutcome"/>).
/// </summary>
public sealed class UpstreamOutcomePolicy(KeyHealth.KeyHealthOptions healthOptions)
{
    /// <summary>Judges <paramref name="outcome"/>, one attempt's facts.</summary>
    public OutcomeVerdict Judge(in UpstreamOutcome outcome)
    {
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
        return outcome.Status < 400 ? OutcomeVerdict.Done : Refused(outcome);
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

    private static string ErrorCodeFor(int status) => status switch
    {
        404 => "not_found",
        413 => "request_too_large",
        400 or 422 => "invalid_request",
        _ => "upstream_error",
    };
}
