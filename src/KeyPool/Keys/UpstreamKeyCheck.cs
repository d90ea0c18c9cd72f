using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using KeyPool.Core.Keys;
using KeyPool.Core.Routing;
using KeyPool.Proxy;

namespace KeyPool.Keys;

/// <summary>What the upstream says of a key (<c>GET /v1/api-key</c>, xAI's endpoint).</summary>
/// <param name="Team">The key's team id, when reported.</param>
/// <param name="Problem">Why the key cannot serve (invalid, disabled, blocked), or null when it can.</param>
/// <param name="Acl">The models the key may use (<c>acls</c>), null for all or when not reported.</param>
internal sealed record KeyCheck(string? Team, string? Problem, ModelAcl? Acl = null);

/// <summary>Asks the upstream about each key: its team (keys of one team share a budget) and whether it is usable.</summary>
internal sealed class UpstreamKeyCheck(UpstreamClient upstream, TimeProvider time)
{
    /// <summary>
    /// The check, or null when the upstream cannot tell within <paramref name="timeout"/> (no such endpoint,
    /// unreachable, silent). Only <paramref name="cancellationToken"/> (the host stopping) ends it with an exception.
    /// </summary>
    public async Task<KeyCheck?> CheckAsync(UpstreamKey key, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, upstream.BaseUrl + "/api-key");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key.Secret);
        request.Headers.UserAgent.Add(UpstreamClient.OwnAgent);
        using var deadline = new CancellationTokenSource(timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        try
        {
            using var response = await upstream.Invoker.SendAsync(request, linked.Token);
            if (response.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
            {
                return new KeyCheck(null, $"rejected by the upstream ({(int)response.StatusCode})");
            }
            if (!response.IsSuccessStatusCode)
            {
                return null; // e.g. 404: a provider without this endpoint
            }
            using var document = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(linked.Token), cancellationToken: linked.Token);
            var root = document.RootElement;
            var team = root.TryGetProperty("team_id", out var teamId) && teamId.ValueKind == JsonValueKind.String ? teamId.GetString() : null;
            var problem = Flag(root, "api_key_disabled") ? "disabled at the upstream"
                : Flag(root, "api_key_blocked") ? "blocked at the upstream"
                : Flag(root, "team_blocked") ? "its team is blocked at the upstream"
                : null;
            var acls = root.TryGetProperty("acls", out var list) && list.ValueKind == JsonValueKind.Array
                ? list.EnumerateArray().Where(a => a.ValueKind == JsonValueKind.String).Select(a => a.GetString()!).ToArray()
                : [];
            return new KeyCheck(team, problem, ModelAcl.From(acls));
        }
        catch (Exception exception) when (exception is HttpRequestException or IOException or JsonException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return null;
        }
    }

    private static bool Flag(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.True;
}
