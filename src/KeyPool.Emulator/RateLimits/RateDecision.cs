namespace KeyPool.Emulator.RateLimits;

/// <summary>What a (team, model) window said about one request, with what the headers report.</summary>
internal readonly record struct RateDecision(
    RateLimitKind? Exceeded,
    int LimitRequests,
    int RemainingRequests,
    long LimitTokens,
    long RemainingTokens,
    TimeSpan ResetRequests,
    TimeSpan ResetTokens)
{
    public bool Admitted => Exceeded is null;
}

internal enum RateLimitKind
{
    Requests,
    Tokens,
}
