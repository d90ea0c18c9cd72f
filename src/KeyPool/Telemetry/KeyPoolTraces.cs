using System.Diagnostics;

namespace KeyPool.Telemetry;

/// <summary>
/// KeyPool's spans: the ActivitySource "KeyPool" and the attribute names it sets (OpenTelemetry's GenAI semantic
/// conventions plus <c>keypool.*</c>). With no listener (tracing not configured) <see cref="ActivitySource.StartActivity(string, ActivityKind)"/>
/// returns null and every helper here returns at its first line.
/// </summary>
internal static class KeyPoolTraces
{
    public const string SourceName = "KeyPool";

    public static readonly ActivitySource Source = new(SourceName, typeof(KeyPoolTraces).Assembly.GetName().Version?.ToString());

    /// <summary>The provider, as in xAI's own name in the conventions' list.</summary>
    public const string Provider = "xai";

    public const string OperationName = "gen_ai.operation.name";
    public const string ProviderName = "gen_ai.provider.name";
    public const string System = "gen_ai.system"; // the older name of gen_ai.provider.name, still read by many back ends
    public const string RequestModel = "gen_ai.request.model";
    public const string ResponseModel = "gen_ai.response.model";
    public const string InputTokens = "gen_ai.usage.input_tokens";
    public const string OutputTokens = "gen_ai.usage.output_tokens";
    public const string CachedTokens = "gen_ai.usage.cached_tokens";
    public const string ReasoningTokens = "gen_ai.usage.reasoning_tokens";
    public const string EndUser = "enduser.id";
    public const string KeyGroup = "keypool.key_group";
    public const string UserGroup = "keypool.user_group";
    public const string Team = "keypool.team";
    public const string Tier = "keypool.tier";
    public const string Cost = "keypool.cost_usd";
    public const string Attempt = "keypool.attempt";
    public const string Attempts = "keypool.attempts";
    public const string Spilled = "keypool.spilled";
    public const string RouteReason = "keypool.route_reason";
    public const string QueueMs = "keypool.queue_ms";
    public const string Refusal = "keypool.refusal";
    public const string ErrorCode = "keypool.error_code";
    public const string Stream = "gen_ai.request.stream";
    public const string HttpStatus = "http.response.status_code";
    public const string ErrorType = "error.type";

    /// <summary>The GenAI operation for a path below <c>/v1</c>: <c>chat</c>, <c>embeddings</c>, … (the convention's names).</summary>
    public static string Operation(string path) => path switch
    {
        _ when path.StartsWith("/chat/completions", StringComparison.Ordinal) => "chat",
        _ when path.StartsWith("/responses", StringComparison.Ordinal) => "chat",
        _ when path.StartsWith("/embeddings", StringComparison.Ordinal) => "embeddings",
        _ when path.StartsWith("/completions", StringComparison.Ordinal) => "text_completion",
        _ when path.StartsWith("/images", StringComparison.Ordinal) => "generate_content",
        _ => "other",
    };
}
