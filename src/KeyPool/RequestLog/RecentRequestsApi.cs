using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;

namespace KeyPool.RequestLog;

/// <summary>
/// <c>GET /api/admin/requests?user=&amp;group=&amp;status=</c>: this instance's last requests, newest first, for the
/// dashboard's Requests tab. <c>status</c> is a code (<c>429</c>) or a class (<c>2xx</c>, <c>4xx</c>, <c>5xx</c>).
/// </summary>
internal static class RecentRequestsApi
{
    public const int MaxReturned = 1000;

    public sealed record RecentResponse(
        [property: JsonPropertyName("instance")] string Instance,
        [property: JsonPropertyName("kept")] int Kept,
        [property: JsonPropertyName("matched")] int Matched,
        [property: JsonPropertyName("requests")] IReadOnlyList<RequestLogEntry> Requests);

    public static RouteGroupBuilder MapRecentRequests(this RouteGroupBuilder admin)
    {
        admin.MapGet("/requests", Get);
        return admin;
    }

    private static Ok<RecentResponse> Get(RecentRequests recent, Telemetry.InstanceName instance, string? user, int? group, string? status)
    {
        var all = recent.Newest();
        var matched = all.Where(e => Matches(e, user, group, status)).ToArray();
        return TypedResults.Ok(new RecentResponse(instance.Value, all.Count, matched.Length, matched.Take(MaxReturned).ToArray()));
    }

    internal static bool Matches(RequestLogEntry entry, string? user, int? group, string? status)
    {
        if (!string.IsNullOrEmpty(user) && !string.Equals(entry.User, user, StringComparison.Ordinal))
        {
            return false;
        }
        if (group is { } g && entry.KeyGroup != g)
        {
            return false;
        }
        if (string.IsNullOrEmpty(status))
        {
            return true;
        }
        status = status.Trim();
        return status.Length == 3 && status.EndsWith("xx", StringComparison.OrdinalIgnoreCase) && char.IsAsciiDigit(status[0])
            ? entry.Status / 100 == status[0] - '0'
            : int.TryParse(status, out var code) && entry.Status == code;
    }
}
