using KeyPool.Core.Routing;
using KeyPool.Core.Storage;
using KeyPool.Core.Users;
using KeyPool.Errors;
using KeyPool.Users;

namespace KeyPool.Proxy;

/// <summary>
/// The identify stage: takes the pool once for the whole request, then finds the end user (the credential's, else the
/// <c>X-User-Id</c> header's, else the body's <c>user</c>) and their tier and key group. A read without a user (model
/// lists) has none and may be answered by any key.
/// </summary>
internal sealed class RequestIdentifier(KeyPoolRouter router, UserResolver users, CallerSlots slots)
{
    private static readonly Refusal NoKeys = new(503, OpenAiError.Server, "no_keys", "No upstream API key is configured.");
    private static readonly Refusal StoreUnavailable = Refusal.Unavailable(
        "store_unavailable", "The user database is unavailable right now, so a new user cannot be given a key group; known users keep being served. Retry in a few seconds.", 5);

    public async ValueTask<Refusal?> IdentifyAsync(ProxyExchange exchange)
    {
        var pool = router.Pool; // one snapshot for the whole request: assignment, routing and scrubbing
        if (pool.Ring.Count == 0)
        {
            return NoKeys;
        }
        exchange.Pool = pool;
        var request = exchange.Context.Request;
        var userId = exchange.Caller!.UserId
            ?? (request.Headers[HeaderCopier.UserHeader].ToString() is { Length: > 0 } header ? header : exchange.Chat.User);
        exchange.UserId = userId;
        if (HttpMethods.IsGet(request.Method) && string.IsNullOrEmpty(userId))
        {
            return null; // no user: any key may answer (model lists and similar reads)
        }
        if (UserResolver.Validate(userId) is { } invalid)
        {
            return Refusal.InvalidRequest(400, "missing_user", invalid, "user");
        }
        if (slots.Hold(exchange, userId!) is { } busy)
        {
            return busy; // a user named only in the body: held now that the body is read
        }
        UserRecord? user;
        try
        {
            user = await users.ResolveAsync(userId!, pool, exchange.Context.RequestAborted);
        }
        catch (StoreUnavailableException)
        {
            // Known users come from the cache and never get here; only a new one needs the store.
            return StoreUnavailable;
        }
        if (user is null)
        {
            return new Refusal(403, OpenAiError.Permission, "user_not_registered",
                $"User '{userId}' is not registered and automatic registration is off: register the user through POST /api/admin/users first.");
        }
        exchange.User = user;
        (exchange.Tier, exchange.Group) = (user.Tier, user.ApiKeyGroup);
        return null;
    }
}
