using KeyPool.Core.Routing;
using KeyPool.Core.StoredObjects;

namespace KeyPool.StoredObjects;

/// <summary>
/// One request's business with stored objects: the team it is pinned to (the one holding the object it refers to; null
/// to route as usual), the key that served it, and at the end what to remember (a created object's owner) or forget (a
/// deleted one). Created only for the few requests that touch stored objects.
/// </summary>
internal sealed class StoredObjectRoute
{
    private readonly StoredObjectDirectory _directory;
    private readonly TimeProvider _time;
    private readonly StoredObjectRequest _request;
    private readonly string? _userId;
    private readonly CreatedIdCapture? _capture;
    private PoolMember? _served;

    internal StoredObjectRoute(StoredObjectDirectory directory, TimeProvider time, StoredObjectRequest request, string? team, string? userId, HttpContext context)
    {
        _directory = directory;
        _time = time;
        _request = request;
        _userId = userId;
        Team = team;
        if (request.Creates is not null)
        {
            _capture = new CreatedIdCapture(context.Response.Body, context.Response);
            context.Response.Body = _capture;
        }
    }

    /// <summary>The team whose keys alone may serve this request, or null.</summary>
    public string? Team { get; }

    /// <summary>A key was given to the request (the last one is the one that answered).</summary>
    public void Admitted(PoolMember member) => _served = member;

    /// <summary>After the answer: records the created object's owner, or forgets a deleted one (only when the upstream said yes).</summary>
    public void Complete(HttpContext context)
    {
        _capture?.Release();
        if (context.Response.StatusCode is < 200 or >= 300 || _served is not { } served)
        {
            return;
        }
        if (_request.Deletes && _request.ReferenceId is { } deleted)
        {
            _directory.Forget(deleted);
        }
        else if (_request.Creates is { } kind && _capture?.Id is { } created)
        {
            _directory.Record(new StoredObject(created, kind, served.Team, served.Group, _userId, _time.GetUtcNow() + StoredObjectRetention.Of(kind)));
        }
    }
}
