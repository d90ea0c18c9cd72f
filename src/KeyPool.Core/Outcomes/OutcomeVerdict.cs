namespace KeyPool.Core.Outcomes;

/// <summary>What an attempt's outcome means: for the request (retry or not, what the client sees) and for the key.</summary>
/// <param name="Succeeded">The answer reached the client in full (or the client left): nothing more to do.</param>
/// <param name="MayRetry">Another key may try: nothing reached the client and the failure was the key's or the upstream's, not the request's.</param>
/// <param name="ClientStatus">The status the client gets when this is the last attempt (0 when <see cref="Succeeded"/>).</param>
/// <param name="ErrorCode">The OpenAI-shaped error code for that answer.</param>
/// <param name="Change">What happened to the key.</param>
/// <param name="CoolFor">How long the key rests (429), which is also the client's <c>Retry-After</c>.</param>
/// <param name="Reason">Why the key changed, for the log (never a secret).</param>
/// <param name="BurstTightened">The upstream refused with room left in its minute, so the team's burst allowance was halved (<see cref="Budgets.RateWindow.TightenBurst"/>).</param>
public readonly record struct OutcomeVerdict(
    bool Succeeded,
    bool MayRetry,
    int ClientStatus,
    string? ErrorCode,
    KeyChange Change = KeyChange.None,
    TimeSpan? CoolFor = null,
    string? Reason = null,
    bool BurstTightened = false)
{
    /// <summary>The request is done and the client has its answer.</summary>
    public static OutcomeVerdict Done { get; } = new(true, false, 0, null);
}
