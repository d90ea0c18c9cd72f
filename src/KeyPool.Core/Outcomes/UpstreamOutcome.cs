namespace KeyPool.Core.Outcomes;

/// <summary>How an exchange with the upstream ended, as far as the key is concerned.</summary>
public enum OutcomeKind
{
    /// <summary>The upstream answered with a status (success or error) and, for a success, the answer was relayed in full.</summary>
    Answered,

    /// <summary>No answer: the connection failed or was reset before the response headers.</summary>
    Unreachable,

    /// <summary>No answer within the request's deadline.</summary>
    TimedOut,

    /// <summary>The answer began but the upstream failed, stalled or sent garbage before it ended.</summary>
    BrokeMidway,

    /// <summary>The client went away; the exchange proves nothing about the key.</summary>
    ClientLeft,
}

/// <summary>
/// What happened on one attempt, as plain facts: the forwarder fills it in, <see cref="UpstreamOutcomePolicy"/> decides what it means.
/// </summary>
/// <param name="Kind">How the exchange ended.</param>
/// <param name="Status">The upstream's HTTP status, 0 when it never answered.</param>
/// <param name="ErrorMessage">The upstream's error message (xAI's <c>error</c>, or OpenAI's <c>error.message</c>) for an error status.</param>
/// <param name="RemainingRequests">The upstream's <c>x-ratelimit-remaining-requests</c>, when sent.</param>
/// <param name="RemainingTokens">The upstream's <c>x-ratelimit-remaining-tokens</c>, when sent.</param>
/// <param name="ResetAfter">When the upstream said its limit resets (<c>Retry-After</c> or <c>x-ratelimit-reset-*</c>).</param>
/// <param name="ClientSawBytes">Whether any byte of the answer already reached the client (then nothing may be retried).</param>
/// <param name="Tokens">Tokens the upstream reported (<c>usage.total_tokens</c>), when read.</param>
public readonly record struct UpstreamOutcome(
    OutcomeKind Kind,
    int Status = 0,
    string? ErrorMessage = null,
    long? RemainingRequests = null,
    long? RemainingTokens = null,
    TimeSpan? ResetAfter = null,
    bool ClientSawBytes = false,
    long? Tokens = null)
{
    /// <summary>Whether the upstream answered with an error status.</summary>
    public bool IsErrorStatus => Kind == OutcomeKind.Answered && Status >= 400;
}
