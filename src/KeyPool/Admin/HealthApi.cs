using System.Text.Json.Serialization;
using KeyPool.Core.Health;
using KeyPool.Core.Usage;
using KeyPool.Core.Users;
using KeyPool.Keys;
using Microsoft.Extensions.Options;

namespace KeyPool.Admin;

/// <summary><c>GET /api/admin/api-keys/health</c>, in the original system's shape plus per-group detail.</summary>
internal static class HealthApi
{
    public sealed record HealthResponse(bool Ok, PoolHealth Health, IReadOnlyList<KeyGroupStats> KeyGroupStats);

    public sealed record KeyGroupStats(
        [property: JsonPropertyName("key_group")] int KeyGroup,
        [property: JsonPropertyName("masked_key")] string MaskedKey,
        [property: JsonPropertyName("state")] string State,
        [property: JsonPropertyName("user_count")] long UserCount,
        [property: JsonPropertyName("total_requests")] long TotalRequests,
        [property: JsonPropertyName("total_tokens")] long TotalTokens,
        [property: JsonPropertyName("prompt_tokens")] long PromptTokens,
        [property: JsonPropertyName("completion_tokens")] long CompletionTokens,
        [property: JsonPropertyName("reasoning_tokens")] long ReasoningTokens,
        [property: JsonPropertyName("cached_tokens")] long CachedTokens,
        [property: JsonPropertyName("errors_4xx")] long Errors4xx,
        [property: JsonPropertyName("errors_429")] long Errors429,
        [property: JsonPropertyName("errors_5xx")] long Errors5xx,
        [property: JsonPropertyName("load_percent")] double LoadPercent,
        [property: JsonPropertyName("last_request_at")] DateTimeOffset? LastRequestAt);

    public static RouteGroupBuilder MapHealth(this RouteGroupBuilder admin)
    {
        admin.MapGet("/api-keys/health", GetAsync);
        return admin;
    }

    private static async Task<IResult> GetAsync(
        KeyRingProvider keys, IUserStore users, UsageRecorder usage, IOptions<CapacityOptions> capacity, CancellationToken cancellationToken)
    {
        var ring = keys.Current;
        var userCounts = await users.CountUsersByGroupAsync(cancellationToken);
        var totals = ring.Keys.Select(k => usage.Totals(k.Group)).ToArray();
        var allRequests = totals.Sum(t => t.Requests);
        var stats = ring.Keys.Zip(totals, (key, total) => new KeyGroupStats(
            key.Group,
            key.Masked,
            "active",
            userCounts.TryGetValue(key.Group, out var count) ? count : 0,
            total.Requests,
            total.TotalTokens,
            total.PromptTokens,
            total.CompletionTokens,
            total.ReasoningTokens,
            total.CachedTokens,
            total.Errors4xx,
            total.Errors429,
            total.Errors5xx,
            allRequests == 0 ? 0 : Math.Round(100.0 * total.Requests / allRequests, 2),
            total.LastRequestAt)).ToArray();
        var health = HealthGrader.Grade(ring.Count, ring.Count, capacity.Value);
        return TypedResults.Ok(new HealthResponse(true, health, stats));
    }
}
