namespace KeyPool.Core.Routing;

// Admission pinned to one team: a request that carries a stored object's id (a previous_response_id, a stored
// response or a deferred completion) can only be answered by a key of the team that holds the object; any other key
// answers 404 and the user's conversation looks lost. So a pinned request never spills: it takes a key of that team
// (the user's own first, for its prompt cache), waits for that team's budget like any request
// (RoutingOptions.MaxQueueWait), and is otherwise refused with a Retry-After of that team alone.
// It passes the promise ledger by: promises are slots of the whole pool, and this request cannot go where they are.
public sealed partial class KeyPoolRouter
{
    // A key of the team only, the user's own first (for its prompt cache); null when none can take it now or the pool has no key of that team.
    private static Admission? TryAdmitOnTeam(PoolSnapshot pool, in SelectionRequest request, string team)
    {
        if (TeamMembers(pool, team) is not { } members)
        {
            return null;
        }
        Admission admission = default;
        var admitted = pool.Find(request.UserGroup) is { } own && own.Team == team && pool.TryAdmit(own, request, RouteReason.Sticky, out admission);
        for (var i = 0; !admitted && i < members.Length; i++)
        {
            admitted = members[i].Group != request.UserGroup && pool.TryAdmit(members[i], request, RouteReason.Spill, out admission);
        }
        return admitted ? admission : null;
    }

    /// <summary>Seconds a request pinned to <paramref name="team"/> should wait: until the soonest budget of that team frees.</summary>
    public int RetryAfterSecondsOnTeam(PoolSnapshot pool, int modelId, string team)
    {
        ArgumentNullException.ThrowIfNull(pool);
        return SoonestFree(pool, TeamMembers(pool, team) ?? [], modelId);
    }

    /// <summary>Whether <paramref name="pool"/> has a key of <paramref name="team"/> (a removed team's stored objects are out of reach).</summary>
    public static bool HasTeam(PoolSnapshot pool, string team) => TeamMembers(pool, team) is not null;

    // Teams are few (keys of different teams are what adds capacity): a scan on the stored-object path only.
    private static PoolMember[]? TeamMembers(PoolSnapshot pool, string team)
    {
        ArgumentNullException.ThrowIfNull(pool);
        foreach (var members in pool.Teams)
        {
            if (members.Length > 0 && string.Equals(members[0].Team, team, StringComparison.Ordinal))
            {
                return members;
            }
        }
        return null;
    }
}
