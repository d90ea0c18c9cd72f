using KeyPool.Core.Cluster;
using KeyPool.Core.Storage;
using KeyPool.Core.Usage;
using KeyPool.Core.Users;
using KeyPool.Errors;
using KeyPool.Hosting;
using KeyPool.Core.Routing;
using KeyPool.Limits;
using KeyPool.Users;
using Microsoft.AspNetCore.Mvc;

namespace KeyPool.Admin;

/// <summary><c>/api/admin/users</c>: register a user (least-loaded group), look one up, change their tier or group.</summary>
internal static class AdminUsersApi
{
    public sealed record CreateUserRequest(string? Id, string? Tier);

    public sealed record UpdateUserRequest(string? Tier, int? ApiKeyGroup);

    public sealed record UserResponse(string Id, int ApiKeyGroup, string Tier);

    /// <summary>A user and their usage (issue 13); <paramref name="Usage"/> is null while the store is unavailable.</summary>
    public sealed record UserDetailsResponse(string Id, int ApiKeyGroup, string Tier, UserUsageApi.UserUsage? Usage);

    public static RouteGroupBuilder MapAdminUsers(this RouteGroupBuilder admin)
    {
        admin.MapPost("/users", CreateAsync);
        admin.MapGet("/users/{id}", (string id, UserResolver users, UserUsageRecorder usage, IUserUsageStore usageStore, CancellationToken cancellationToken) =>
            Ambiguous(id) ?? GetAsync(id, users, usage, usageStore, cancellationToken));
        admin.MapPatch("/users/{id}", (string id, HttpRequest request, UserResolver users, TierLimits tiers, KeyPoolRouter router, IClusterBus cluster, ILoggerFactory loggers, CancellationToken cancellationToken) =>
            Ambiguous(id) ?? UpdateAsync(id, request, users, tiers, router, cluster, loggers, cancellationToken));
        // By exact id in the query string, which decodes one way only: also reaches stored ids from before the grammar.
        admin.MapGet("/user", ([FromQuery] string? id, UserResolver users, UserUsageRecorder usage, IUserUsageStore usageStore, CancellationToken cancellationToken) =>
            MissingId(id) ?? GetAsync(id!, users, usage, usageStore, cancellationToken));
        admin.MapPatch("/user", ([FromQuery] string? id, HttpRequest request, UserResolver users, TierLimits tiers, KeyPoolRouter router, IClusterBus cluster, ILoggerFactory loggers, CancellationToken cancellationToken) =>
            MissingId(id) ?? UpdateAsync(id!, request, users, tiers, router, cluster, loggers, cancellationToken));
        admin.MapAdminUserUsage();
        return admin;
    }

    private static async Task<IResult> CreateAsync(
        HttpRequest request, UserResolver users, KeyPoolRouter router, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        CreateUserRequest? body;
        try
        {
            body = await request.ReadFromJsonAsync<CreateUserRequest>(cancellationToken);
        }
        catch (Exception exception) when (exception is System.Text.Json.JsonException or InvalidOperationException or BadHttpRequestException)
        {
            return Error(400, $"The body must be JSON like {{\"id\":\"u1\",\"tier\":\"free\"}}: {exception.Message}", OpenAiError.InvalidRequest, "invalid_json");
        }
        if (UserResolver.Validate(body?.Id, "the body's \"id\" field") is { } invalid)
        {
            return Error(400, invalid, OpenAiError.InvalidRequest, "invalid_user_id", "id");
        }
        if (body!.Tier is { } tier && (string.IsNullOrWhiteSpace(tier) || tier.Length > 64))
        {
            return Error(400, "The tier must be 1 to 64 characters.", OpenAiError.InvalidRequest, "invalid_tier", "tier");
        }
        var pool = router.Pool;
        var existing = await users.FindAsync(body.Id!, cancellationToken);
        if (existing is not null)
        {
            return TypedResults.Ok(ToResponse(existing));
        }
        if (pool.Ring.Count == 0)
        {
            return Error(503, "No upstream API key is configured: a user cannot be given a key group.", OpenAiError.Server, "no_keys");
        }
        var assignment = await users.RegisterAsync(body.Id!, body.Tier, pool, cancellationToken);
        if (!assignment.Created)
        {
            return TypedResults.Ok(ToResponse(assignment.User));
        }
        Log.UserAssigned(loggers.CreateLogger("KeyPool.Admin"), assignment.User.Id, assignment.User.ApiKeyGroup, assignment.User.Tier);
        return TypedResults.Created($"/api/admin/users/{Uri.EscapeDataString(assignment.User.Id)}", ToResponse(assignment.User));
    }

    private static async Task<IResult> GetAsync(
        string id, UserResolver users, UserUsageRecorder usage, IUserUsageStore usageStore, CancellationToken cancellationToken)
    {
        if (await users.FindAsync(id, cancellationToken) is not { } user)
        {
            return Error(404, $"No user '{id}'.", OpenAiError.InvalidRequest, "user_not_found");
        }
        UserUsageApi.UserUsage? counted = null;
        try
        {
            counted = await UserUsageApi.ReadAsync(user.Id, usage, usageStore, cancellationToken);
        }
        catch (StoreUnavailableException)
        {
            // A cached user is still looked up while the store is down; their usage is then unknown (null), not partial.
        }
        return TypedResults.Ok(new UserDetailsResponse(user.Id, user.ApiKeyGroup, user.Tier, counted));
    }

    /// <summary>
    /// <c>{"tier":"pro"}</c> and/or <c>{"apiKeyGroup":7}</c>: stored, applied here at once (the user's limits follow their
    /// tier at the next request) and on every other instance through the cluster bus.
    /// </summary>
    private static async Task<IResult> UpdateAsync(
        string id, HttpRequest request, UserResolver users, TierLimits tiers, KeyPoolRouter router, IClusterBus cluster, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        UpdateUserRequest? body;
        try
        {
            body = await request.ReadFromJsonAsync<UpdateUserRequest>(cancellationToken);
        }
        catch (Exception exception) when (exception is System.Text.Json.JsonException or InvalidOperationException or BadHttpRequestException)
        {
            return Error(400, $"The body must be JSON like {{\"tier\":\"pro\"}} or {{\"apiKeyGroup\":7}}: {exception.Message}", OpenAiError.InvalidRequest, "invalid_json");
        }
        if (body is not { } change || (change.Tier is null && change.ApiKeyGroup is null))
        {
            return Error(400, "Set \"tier\", \"apiKeyGroup\" or both.", OpenAiError.InvalidRequest, "invalid_request");
        }
        if (change.Tier is { } tier && !tiers.IsKnown(tier))
        {
            return Error(400, $"Unknown tier '{tier}': configure KeyPool:Tiers:{tier} first, or use one of {string.Join(", ", tiers.Known)}.", OpenAiError.InvalidRequest, "invalid_tier", "tier");
        }
        var groups = router.Pool.Ring.Groups;
        if (change.ApiKeyGroup is { } group && !groups.Contains(group))
        {
            // A user moved to a group without a key would only ever spill: refused rather than stored.
            return Error(400, $"Key group {group} has no key in the pool (groups: {string.Join(", ", groups)}).", OpenAiError.InvalidRequest, "invalid_group", "apiKeyGroup");
        }
        if (await users.UpdateAsync(id, change.Tier, change.ApiKeyGroup, cancellationToken) is not { } updated)
        {
            return Error(404, $"No user '{id}'.", OpenAiError.InvalidRequest, "user_not_found");
        }
        cluster.Publish(new ClusterEvent(ClusterEventKind.UserChanged, UserId: updated.Id));
        Log.UserUpdated(loggers.CreateLogger("KeyPool.Admin"), updated.Id, updated.ApiKeyGroup, updated.Tier);
        return TypedResults.Ok(ToResponse(updated));
    }

    /// <summary>
    /// A path segment that still holds '%' after decoding (the server leaves <c>%2F</c> encoded) could mean two ids
    /// (<c>a/b</c> or the stored <c>a%2Fb</c>): refused, pointing at the query form, rather than opening the wrong user.
    /// </summary>
    private static Task<IResult>? Ambiguous(string id) => id.Contains('%', StringComparison.Ordinal)
        ? Task.FromResult(Error(400, $"A user id in the path must not hold '/' or '%' (it could name two users): use /api/admin/user?id=<url-encoded id>.", OpenAiError.InvalidRequest, "ambiguous_user_id", "id"))
        : null;

    private static Task<IResult>? MissingId(string? id) => string.IsNullOrEmpty(id)
        ? Task.FromResult(Error(400, "Name the user in the query: /api/admin/user?id=<url-encoded id>.", OpenAiError.InvalidRequest, "invalid_user_id", "id"))
        : null;

    private static UserResponse ToResponse(UserRecord user) => new(user.Id, user.ApiKeyGroup, user.Tier);

    private static IResult Error(int status, string message, string type, string code, string? param = null) =>
        new OpenAiErrorResult(status, message, type, code, param);
}
