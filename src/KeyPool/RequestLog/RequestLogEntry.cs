using System.Text.Json.Serialization;

namespace KeyPool.RequestLog;

/// <summary>
/// One <c>/v1</c> request as the request log and the dashboard show it: who, which key group, what it cost and how
/// long it took. Never a key, a prompt or an answer: only counts, names and the team as a hash.
/// </summary>
internal sealed record RequestLogEntry
{
    [JsonPropertyName("time")] public DateTimeOffset Time { get; init; }
    [JsonPropertyName("instance")] public string Instance { get; init; } = "";
    [JsonPropertyName("user")] public string? User { get; init; }
    [JsonPropertyName("tier")] public string? Tier { get; init; }
    /// <summary>The key group that served the last attempt, or null when no key was asked.</summary>
    [JsonPropertyName("key_group")] public int? KeyGroup { get; init; }
    [JsonPropertyName("team")] public string? TeamHash { get; init; }
    [JsonPropertyName("model")] public string? Model { get; init; }
    [JsonPropertyName("endpoint")] public string Endpoint { get; init; } = "";
    [JsonPropertyName("status")] public int Status { get; init; }
    /// <summary>KeyPool's error code when the gateway refused or the upstream failed, else null.</summary>
    [JsonPropertyName("error_code")] public string? ErrorCode { get; init; }
    [JsonPropertyName("attempts")] public int Attempts { get; init; }
    [JsonPropertyName("spilled")] public bool Spilled { get; init; }
    [JsonPropertyName("queue_ms")] public double QueueMs { get; init; }
    [JsonPropertyName("upstream_ms")] public double? UpstreamMs { get; init; }
    [JsonPropertyName("ttfb_ms")] public double? FirstByteMs { get; init; }
    [JsonPropertyName("duration_ms")] public double DurationMs { get; init; }
    [JsonPropertyName("input_tokens")] public long? InputTokens { get; init; }
    [JsonPropertyName("output_tokens")] public long? OutputTokens { get; init; }
    [JsonPropertyName("cached_tokens")] public long? CachedTokens { get; init; }
    [JsonPropertyName("reasoning_tokens")] public long? ReasoningTokens { get; init; }
    [JsonPropertyName("cost_usd")] public decimal? CostUsd { get; init; }
    [JsonPropertyName("stream")] public bool Stream { get; init; }
    /// <summary>How the caller authenticated: <c>client_token</c>, <c>gateway_key</c>, <c>jwt</c>, ….</summary>
    [JsonPropertyName("caller")] public string? CallerKind { get; init; }
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(RequestLogEntry))]
[JsonSerializable(typeof(IReadOnlyList<RequestLogEntry>))]
internal sealed partial class RequestLogJson : JsonSerializerContext;
