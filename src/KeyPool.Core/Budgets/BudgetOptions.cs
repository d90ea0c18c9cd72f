namespace KeyPool.Core.Budgets;

/// <summary>Rate budgets of every key (<c>KeyPool:Budgets</c>); a group may override them (<c>KeyPool:Keys:Groups:&lt;n&gt;</c>).</summary>
public sealed class BudgetOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "KeyPool:Budgets";

    /// <summary>The default of <see cref="BurstSeconds"/>.</summary>
    public const int DefaultBurstSeconds = 10;

    /// <summary>Requests per minute per (team, model). Default 480, a Grok key's limit.</summary>
    public int RequestsPerMinute { get; set; } = 480;

    /// <summary>Tokens per minute per (team, model), reasoning included. Default 2,000,000.</summary>
    public long TokensPerMinute { get; set; } = 2_000_000;

    /// <summary>
    /// Seconds of budget one team may spend at once (1–60): a token bucket refilled at a sixtieth of the
    /// minute budget per second, holding this many seconds of it. Default 10: a 480 RPM team takes a burst
    /// of 80, a 30 RPM team one of 5. The sliding minute is enforced besides, so a burst never passes it.
    /// </summary>
    public int BurstSeconds { get; set; } = DefaultBurstSeconds;

    /// <summary>Completion tokens reserved when a request names no <c>max_tokens</c>. Default 1,024.</summary>
    public long DefaultCompletionTokens { get; set; } = 1_024;

    /// <summary>Request body bytes per prompt token, for the admission estimate. Default 4.</summary>
    public int BytesPerPromptToken { get; set; } = 4;
}

/// <summary>The limits of one budget.</summary>
/// <param name="RequestsPerMinute">Requests per sliding minute.</param>
/// <param name="TokensPerMinute">Tokens per sliding minute.</param>
/// <param name="BurstSeconds">Seconds of budget that may be spent at once (see <see cref="BudgetOptions.BurstSeconds"/>).</param>
public readonly record struct BudgetLimits(int RequestsPerMinute, long TokensPerMinute, int BurstSeconds = BudgetOptions.DefaultBurstSeconds)
{
    /// <summary>A sixtieth of the minute's requests, rounded up: the average second's share (the cluster's lease sizes use it).</summary>
    public int RequestsPerSecond => Math.Max(1, (RequestsPerMinute + 59) / 60);

    /// <summary>A sixtieth of the minute's tokens, rounded up.</summary>
    public long TokensPerSecond => Math.Max(1, (TokensPerMinute + 59) / 60);

    /// <summary>Requests one burst may hold: <see cref="BurstSeconds"/> of the minute budget, rounded up, at least 1.</summary>
    public int BurstRequests => (int)Math.Clamp(((long)RequestsPerMinute * Math.Clamp(BurstSeconds, 1, 60) + 59) / 60, 1, Math.Max(1, RequestsPerMinute));

    /// <summary>Tokens one burst may hold (a single larger request still passes when the bucket is full).</summary>
    public long BurstTokens => Math.Max(1, (TokensPerMinute * Math.Clamp(BurstSeconds, 1, 60) + 59) / 60);
}
