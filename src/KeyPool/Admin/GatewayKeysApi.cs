using KeyPool.Auth;
using KeyPool.Core.Callers;
using KeyPool.Errors;
using KeyPool.Core.Routing;
using KeyPool.Users;

namespace KeyPool.Admin;

/// <summary>
/// <c>/api/admin/users/{id}/keys</c>: issue a per-user gateway key (its secret shown once, only its
/// hash stored), list a user's keys without secrets, revoke one (it stops working at once here).
/// </summary>
internal static class GatewayKeysApi
{
    public sealed record IssuedKeyResponse(string Id, string Key, string UserId, DateTimeOffset CreatedAt);

    public sealed record KeyResponse(string Id, string Prefix, DateTimeOffset CreatedAt, bool Revoked, DateTimeOffset? RevokedAt);

    public sealed record KeyListResponse(string UserId, IReadOnlyList<KeyResponse> Keys);

    public static RouteGroupBuilder MapGatewayKeys(this RouteGroupBuilder admin)
    {
        admin.MapPost("/users/{id}/keys", IssueAsync);
        admin.MapGet("/users/{id}/keys", ListAsync);
        admin.MapDelete("/users/{id}/keys/{keyId}", RevokeAsync);
        return admin;
    }

    private static async Task<IResult> IssueAsync(
        string id, HttpResponse response, GatewayKeyRegistry registry, UserResolver users, KeyPoolRouter router, CancellationToken cancellationToken)
    {
        if (Refused(registry, id) is { } refused)
        {
            return refused;
        }
        // The key is useless without a key group, so the user is registered now (least-loaded group)
        // rather than at the first request, where automatic registration may be off.
        var pool = router.Pool;
        if (pool.Ring.Count > 0)
        {
            await users.RegisterAsync(id, null, pool, cancellationToken);
        }
        var (key, secret) = await registry.IssueAsync(id, cancellationToken);
        response.Headers.CacheControl = "no-store"; // the only time the secret is ever shown
        return TypedResults.Created(
            $"/api/admin/users/{Uri.EscapeDataString(id)}/keys/{key.Id}",
            new IssuedKeyResponse(key.Id, secret, key.UserId, key.CreatedAt));
    }

    private static async Task<IResult> ListAsync(string id, GatewayKeyRegistry registry, CancellationToken cancellationToken)
    {
        if (Refused(registry, id) is { } refused)
        {
            return refused;
        }
        var list = await registry.ListAsync(id, cancellationToken);
        return TypedResults.Ok(new KeyListResponse(id, list.Select(ToResponse).ToArray()));
    }

    private static async Task<IResult> RevokeAsync(string id, string keyId, GatewayKeyRegistry registry, CancellationToken cancellationToken)
    {
        if (Refused(registry, id) is { } refused)
        {
            return refused;
        }
        return await registry.RevokeAsync(id, keyId, cancellationToken)
            ? TypedResults.NoContent()
            : new OpenAiErrorResult(404, $"User '{id}' has no gateway key '{keyId}'.", OpenAiError.InvalidRequest, "gateway_key_not_found");
    }

    private static OpenAiErrorResult? Refused(GatewayKeyRegistry registry, string id)
    {
        if (!registry.Enabled)
        {
            return new OpenAiErrorResult(404, "Gateway keys are off: set KeyPool:Auth:GatewayKeys:Enabled=true to issue them.", OpenAiError.InvalidRequest, "gateway_keys_disabled");
        }
        if (UserResolver.Validate(id) is { } invalid)
        {
            return new OpenAiErrorResult(400, invalid.Replace("with the X-KeyPool-User header or the body's \"user\" field", "in the path", StringComparison.Ordinal), OpenAiError.InvalidRequest, "invalid_user_id", "id");
        }
        return null;
    }

    private static KeyResponse ToResponse(GatewayKey key) => new(key.Id, key.Prefix, key.CreatedAt, key.IsRevoked, key.RevokedAt);
}
