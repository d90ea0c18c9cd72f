using System.Globalization;
using KeyPool.Core.Cluster;
using KeyPool.Core.Routing;
using KeyPool.Core.Storage;
using KeyPool.Core.StoredObjects;
using KeyPool.Errors;
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

    /// <summary>
    /// Null when the request has nothing to do with stored objects; <see cref="StoredObjectRoute.Answered"/> when this
    /// wrote the answer (404, 503); else the route: the team to pin to (or none), and what to record at the end.
    /// </summary>
    /// <param name="context">The exchange.</param>
    /// <param name="path">The validated path below <c>/v1</c>.</param>
    /// <param name="body">The request body.</param>
    /// <param name="endUser">The credential names its user (gateway key, JWT).</param>
    /// <param name="userId">The user the request acts for, or null (a backend naming nobody).</param>
    /// <param name="pool">The request's pool.</param>
    public async ValueTask<StoredObjectRoute?> ResolveAsync(HttpContext context, string path, ReadOnlyMemory<byte> body, bool endUser, string? userId, PoolSnapshot pool)
    {
        var request = StoredObjectRequest.Read(context.Request.Method, path, body.Span);
        if (!request.Any)
        {
            return null;
        }
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
                context.Response.Headers.RetryAfter = "5";
                await OpenAiError.WriteAsync(context, 503, "The database that says which key holds this stored object is unavailable right now. Retry in a few seconds.", OpenAiError.Server, "store_unavailable");
                return StoredObjectRoute.Answered;
            }
            if (!MayUse(owner, endUser, userId) || (owner is not null && owner.Kind != request.ReferenceKind))
            {
                await NotFoundAsync(context, request.ReferenceKind, id);
                return StoredObjectRoute.Answered;
            }
            // A team no longer in the pool has taken its objects with it: the user's own group answers (the upstream's 404).
            team = owner is not null && KeyPoolRouter.HasTeam(pool, owner.Team) ? owner.Team : null;
        }
        return new StoredObjectRoute(directory, time, request, team, userId, context);
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

    private static Task NotFoundAsync(HttpContext context, Core.StoredObjects.StoredObjectKind kind, string id)
    {
        var what = kind == Core.StoredObjects.StoredObjectKind.Deferred ? "deferred completion" : "response";
        return OpenAiError.WriteAsync(context, 404, string.Create(CultureInfo.InvariantCulture, $"No {what} with id '{Truncate(id)}' was found."), OpenAiError.InvalidRequest, "not_found");
    }

    // Ids come from callers: the message echoes a bounded part.
    private static string Truncate(string id) => id.Length <= 80 ? id : id[..80] + "…";
}
