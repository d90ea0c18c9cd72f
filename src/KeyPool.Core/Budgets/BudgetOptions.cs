namespace KeyPool.Core.Budgets;

/// <summary>Rate budgets of every key (<c>KeyPool:Budgets</c>); a group may override them (<c>KeyPool:Keys:Groups:&lt;n&gt;</c>).</summary>
public sealed class BudgetOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "KeyPool:Budgets";

    /// <summary>Requests per minute per (team, model). Default 480, a Grok key's limit.</summary>
    public int RequestsPerMinute { get; set; } = 480;

    /// <summary>Tokens per minute per (team, model), reasoning included. Default 2,000,000.</summary>
    public long TokensPerMinute { get; set; } = 2_000_000;

    /// <summary>Completion tokens reserved when a request names no <c>max_tokens</c>. Default 1,024.</summary>
    public long DefaultCompletionTokens { get; set; } = 1_024;

    /// <summary>Request body bytes per prompt token, for the admission estimate. Default 4.</summary>
    public int BytesPerPromptToken { get; set; } = 4;
}

/// <summary>The limits of one budget.</summary>
/// <param name="RequestsPerMinute">Requests per sliding minute; the per-second cap is a sixtieth of it, rounded up.</param>
/// <param name="TokensPerMinute">Tokens per sliding minute.</param>
public readonly record struct BudgetLimits(int RequestsPerMinute, long TokensPerMinute)
{
    /// <summary>At most this many requests start in one second: ≈ RPM/60, so a minute's budget is not spent in a burst.</summary>
    public int RequestsPerSecond => Math.Max(1, (RequestsPerMinute + 59) / 60);

    /// <summary>At most this many tokens are reserved in one second (a single larger request still passes alone).</summary>
    public long TokensPerSecond => Math.Max(1, (TokensPerMinute + 59) / 60);
}
