using System.Globalization;
using KeyPool.Core.Cluster;
using KeyPool.Core.Routing;
using KeyPool.Core.Storage;
using KeyPool.Core.StoredObjects;
using KeyPool.Proxy;
using Microsoft.Extensions.Options;

namespace KeyPool.StoredObjects;

/// <summary>
/// The request path's one stop for stored objects, after the end user is known and before any key is asked. A request
/// that refers to a stored response or deferred completion is checked against its owner and pinned to the team that
/// holds it; one that creates one has the created id read from its answer and recorded afterwards (see
/// <see cref="StoredObjectRoute"/>). Everything else passes with a look at the path (and, for a chat body, one search).
/// </summary>
/// <remarks>
/// Who may use an object: a credential that names its user (gateway key, JWT) only that user's objects, and an id
/// KeyPool does not know is not provably theirs; a client token naming a user acts for them (their objects, and ids
/// KeyPool does not know, which go to that user's group); a client token naming nobody (a backend) any object.
/// Anything else gets 404, as the upstream itself answers for an object it does not have, without reaching it.
/// </remarks>
internal sealed class StoredObjectAccess(
    StoredObjectDirectory directory,
    ClusterHealth cluster,
    IOptions<StoredObjectsOptions> options,
    Storage.StoreChoice store,
    TimeProvider time)
{
    // A shared store may be written by another instance right now: a miss is read once more after a short delay.
    private readonly bool _sharedStore = store.Kind == Storage.StoreKind.Postgres;

    private static readonly Refusal StoreUnavailable = Refusal.Unavailable(
        "store_unavailable", "The database that says which key holds this stored object is unavailable right now. Retry in a few seconds.", 5);

    /// <summary>
    /// The stored-objects stage: null when the request may go on, with <see cref="ProxyExchange.Stored"/> set when it
    /// touches stored objects (the team to pin to, or none, and what to record at the end); else why not (404, 503).
    /// Reads the validated path, the body, the caller and the pool from <paramref name="exchange"/>.
    /// </summary>
    public async ValueTask<Refusal?> ResolveAsync(ProxyExchange exchange)
    {
        var context = exchange.Context;
        var request = StoredObjectRequest.Read(context.Request.Method, exchange.Path, exchange.ClientBody.Span);
        if (!request.Any)
        {
            return null;
        }
        var userId = string.IsNullOrEmpty(exchange.UserId) ? null : exchange.UserId; // null: a backend naming nobody
        string? team = null;
        if (request.ReferenceId is { } id)
        {
            StoredObject? owner;
            try
            {
                var recheck = _sharedStore || cluster.Instances > 1 ? options.Value.ClusterRecheck : TimeSpan.Zero;
                owner = await directory.FindAsync(id, recheck, context.RequestAborted);
            }
            catch (StoreUnavailableException)
            {
                return StoreUnavailable;
            }
            if (!MayUse(owner, exchange.EndUser, userId) || (owner is not null && owner.Kind != request.ReferenceKind))
            {
                return NotFound(request.ReferenceKind, id);
            }
            // A team no longer in the pool has taken its objects with it: the user's own group answers (the upstream's 404).
            team = owner is not null && KeyPoolRouter.HasTeam(exchange.Pool!, owner.Team) ? owner.Team : null;
        }
        exchange.Stored = new StoredObjectRoute(directory, time, request, team, userId, context);
        return null;
    }

    /// <summary>Whether a caller may use <paramref name="owner"/> (null: an id KeyPool does not know).</summary>
    internal static bool MayUse(StoredObject? owner, bool endUser, string? userId)
    {
        if (owner is null)
        {
            return !endUser;
        }
        return userId is null ? !endUser : owner.UserId is null ? !endUser : string.Equals(owner.UserId, userId, StringComparison.Ordinal);
    }

    private static Refusal NotFound(StoredObjectKind kind, string id)
    {
        var what = kind == StoredObjectKind.Deferred ? "deferred completion" : "response";
        return Refusal.InvalidRequest(404, "not_found", string.Create(CultureInfo.InvariantCulture, $"No {what} with id '{Truncate(id)}' was found."));
    }

    // Ids come from callers: the message echoes a bounded part.
    private static string Truncate(string id) => id.Length <= 80 ? id : id[..80] + "…";
}
