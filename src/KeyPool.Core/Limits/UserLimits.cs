namespace KeyPool.Core.Limits;

/// <summary>What one user of a tier may spend; null is no limit.</summary>
/// <param name="RequestsPerMinute">Requests a minute (a full minute's worth may be spent at once; it refills continuously).</param>
/// <param name="TokensPerMinute">Tokens a minute, counted like <paramref name="RequestsPerMinute"/>.</param>
/// <param name="TokensPerDay">Tokens per UTC day.</param>
public readonly record struct UserLimits(long? RequestsPerMinute = null, long? TokensPerMinute = null, long? TokensPerDay = null)
{
    /// <summary>True when at least one limit is set: only then does the user hold a counter.</summary>
    public bool Any => RequestsPerMinute is not null || TokensPerMinute is not null || TokensPerDay is not null;
}

/// <summary>Which limit refused a request.</summary>
public enum UserLimitKind
{
    /// <summary>None: the request was admitted.</summary>
    None,

    /// <summary><see cref="UserLimits.RequestsPerMinute"/>.</summary>
    RequestsPerMinute,

    /// <summary><see cref="UserLimits.TokensPerMinute"/>.</summary>
    TokensPerMinute,

    /// <summary><see cref="UserLimits.TokensPerDay"/>.</summary>
    TokensPerDay,
}

/// <summary>The answer of <see cref="UserLimiter.TryAcquire"/>.</summary>
/// <param name="Reservation">What to settle when the request completes (empty when refused or unlimited).</param>
/// <param name="Exceeded">The limit that refused the request, or <see cref="UserLimitKind.None"/>.</param>
/// <param name="Limit">The configured value of that limit (for the whole pool, not this instance's share).</param>
/// <param name="RetryAfterSeconds">Seconds until the limit has room again (for the day limit: until UTC midnight).</param>
public readonly record struct UserLimitDecision(UserReservation Reservation, UserLimitKind Exceeded, long Limit, int RetryAfterSeconds)
{
    /// <summary>True when the request may go on.</summary>
    public bool Admitted => Exceeded == UserLimitKind.None;
}

/// <summary>Tokens reserved for one admitted request until it is settled; the default value reserves nothing.</summary>
public readonly struct UserReservation
{
    private readonly UserLimiter? _limiter;
    private readonly UserCounter? _counter;
    private readonly long _tokens;
    private readonly long _tokenLimit;
    private readonly int _day;

    internal UserReservation(UserLimiter limiter, UserCounter counter, long tokens, long tokenLimit, int day)
    {
        _limiter = limiter;
        _counter = counter;
        _tokens = tokens;
        _tokenLimit = tokenLimit;
        _day = day;
    }

    /// <summary>Tokens reserved.</summary>
    public long Tokens => _tokens;

    /// <summary>Replaces the reservation with what the request really cost (0 when the upstream spent nothing). Call once.</summary>
    public void Settle(long actualTokens) => _limiter?.Settle(_counter!, _tokens, actualTokens, _tokenLimit, _day);
}
