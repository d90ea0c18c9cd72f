namespace KeyPool.Emulator;

/// <summary>
/// One request that reached a handler. <paramref name="Key"/> is the raw bearer key: this is test
/// instrumentation, never shown to users. <paramref name="Reason"/> is null on success, else e.g.
/// "rate_limited", "invalid_key", "revoked", "blocked", "credits_exhausted", "injected_5xx", "reset_mid_stream".
/// </summary>
public sealed record ServedRequest(
    string? Key,
    string Path,
    string? Model,
    bool Stream,
    int Status,
    string? User,
    string? ConversationId,
    DateTimeOffset At,
    string? Reason)
{
    /// <summary>The request's headers other than Authorization.</summary>
    public IReadOnlyDictionary<string, string> Headers { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// The usage billed for this answer (null when none was: errors, a deferred request's acceptance, a pending
    /// poll, non-inference calls). A stream reports it to its client only when asked (<c>include_usage</c>) or, for
    /// Responses, in <c>response.completed</c>; a cut stream is billed too and records its <see cref="Reason"/>.
    /// </summary>
    public ServedUsage? Usage { get; init; }
}
