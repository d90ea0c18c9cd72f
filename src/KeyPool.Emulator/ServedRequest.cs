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
}
