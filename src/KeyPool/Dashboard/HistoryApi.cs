using System.Text.Json.Serialization;
using KeyPool.Usage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace KeyPool.Dashboard;

/// <summary><c>GET /api/admin/api-keys/history</c>: requests per key group per minute over the last hour.</summary>
internal static class HistoryApi
{
    public sealed record HistoryResponse(
        [property: JsonPropertyName("minutes")] IReadOnlyList<DateTimeOffset> Minutes,
        [property: JsonPropertyName("groups")] IReadOnlyList<GroupRow> Groups);

    public sealed record GroupRow(
        [property: JsonPropertyName("key_group")] int KeyGroup,
        [property: JsonPropertyName("requests")] IReadOnlyList<long> Requests);

    public static RouteGroupBuilder MapHistory(this RouteGroupBuilder admin)
    {
        admin.MapGet("/api-keys/history", Get);
        return admin;
    }

    private static Ok<HistoryResponse> Get(RequestHistory history, RequestHistorySampler sampler, TimeProvider time)
    {
        // Sample on read too, so the current minute includes requests of the last few seconds.
        sampler.SampleNow();
        var snapshot = history.Read(time.GetUtcNow());
        return TypedResults.Ok(new HistoryResponse(snapshot.MinuteStarts, snapshot.Groups.Select(g => new GroupRow(g.Group, g.Requests)).ToArray()));
    }
}
