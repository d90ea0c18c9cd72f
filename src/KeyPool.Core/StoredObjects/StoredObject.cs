namespace KeyPool.Core.StoredObjects;

/// <summary>What kind of object the upstream keeps for a team.</summary>
public enum StoredObjectKind
{
    /// <summary>A stored response (<c>resp_…</c>): continued by <c>previous_response_id</c>, read and deleted by id.</summary>
    Response = 1,

    /// <summary>A deferred chat completion's request id, polled at <c>GET /v1/chat/deferred-completion/{id}</c>.</summary>
    Deferred = 2,
}

/// <summary>
/// An object the upstream keeps on the team whose key created it (only that team's keys can reach it), and the end
/// user it belongs to.
/// </summary>
/// <param name="Id">The upstream's id (<c>resp_…</c>, or a deferred request id).</param>
/// <param name="Kind">What it is.</param>
/// <param name="Team">The team that holds it (keys of one team share it, as they share a budget).</param>
/// <param name="Group">The key group that created it (its team's key to try first).</param>
/// <param name="UserId">The end user it belongs to, or null when the request named none (a backend's own object).</param>
/// <param name="ExpiresAt">When the upstream forgets it (<see cref="StoredObjectRetention"/>).</param>
public sealed record StoredObject(string Id, StoredObjectKind Kind, string Team, int Group, string? UserId, DateTimeOffset ExpiresAt);

/// <summary>How long the upstream keeps each kind, and so how long KeyPool remembers its owner.</summary>
public static class StoredObjectRetention
{
    /// <summary>Stored responses: 30 days.</summary>
    public static readonly TimeSpan Response = TimeSpan.FromDays(30);

    /// <summary>Deferred completions: 24 hours.</summary>
    public static readonly TimeSpan Deferred = TimeSpan.FromHours(24);

    /// <summary>The retention of <paramref name="kind"/>.</summary>
    public static TimeSpan Of(StoredObjectKind kind) => kind == StoredObjectKind.Deferred ? Deferred : Response;
}
