namespace KeyPool.Core.Outcomes;

/// <summary>What an attempt's outcome means: for the request (retry or not, what the client sees) and for the key.</summary>
/// <param name="Succeeded">The answer reached the client in full (or the client left): nothing more to do.</param>
/// <param name="MayRetry">Another key may try: nothing reached the client and the failure was the key's or the upstream's, not the request's.</param>
/// <param name="ClientStatus">The status the client gets when this is the last attempt (0 when <see cref="Succeeded"/>).</param>
/// <param name="ErrorCode">The OpenAI-shaped error code for that answer.</param>
/// <param name="Change">What happened to the key: filled in by <see cref="KeyHealthUpdater.Apply"/>, which carries out <paramref name="Action"/>.</param>
/// <param name="CoolFor">How long the key rests (429), which is also the client's <c>Retry-After</c>: filled in with <paramref name="Change"/>.</param>
/// <param name="Reason">Why the key changes, for the log and the revocation (never a secret).</param>
/// <param name="BurstTightened">The upstream refused with room left in its minute, so the team's burst allowance was halved (<see cref="Budgets.RateWindow.TightenBurst"/>): filled in
/// with what the request's budget did when it settled the attempt.</param>
/// <param name="Action">What the key's health must take from this outcome (the policy decides, the health updater applies).</param>
/// <param name="ResetAfter">With <see cref="KeyAction.CoolDown"/>: when the upstream said its window resets, if it did; with
/// <see cref="KeyAction.DenyModel"/>: how long the key is spared the model.</param>
public readonly record struct OutcomeVerdict(
    bool Succeeded,
    bool MayRetry,
    int ClientStatus,
    string? ErrorCode,
    KeyChange Change = KeyChange.None,
    TimeSpan? CoolFor = null,
    string? Reason = null,
    bool BurstTightened = false,
    KeyAction Action = KeyAction.None,
    TimeSpan? ResetAfter = null)
{
    /// <summary>The request is done and the client has its answer; the key worked.</summary>
    public static OutcomeVerdict Done { get; } = new(true, false, 0, null, Action: KeyAction.Success);

    /// <summary>The client left: the request is over and proves nothing about the key.</summary>
    public static OutcomeVerdict ClientLeft { get; } = new(true, false, 0, null, Action: KeyAction.Abandon);
}

/// <summary>What an outcome asks of the key's health.</summary>
public enum KeyAction
{
    /// <summary>Nothing.</summary>
    None,

    /// <summary>The key answered: its circuit closes.</summary>
    Success,

    /// <summary>The attempt proved nothing (the client left): a half-open probe is freed.</summary>
    Abandon,

    /// <summary>A 5xx, time-out or broken answer: counts against the circuit.</summary>
    Failure,

    /// <summary>A 429: the key rests.</summary>
    CoolDown,

    /// <summary>The upstream rejected the key: out until re-enabled.</summary>
    Revoke,

    /// <summary>The upstream refused the key this model (403): the model goes elsewhere for a while; the key works.</summary>
    DenyModel,
}
