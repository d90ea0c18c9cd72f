using KeyPool.Core.Fairness;
using KeyPool.Core.KeyHealth;

namespace KeyPool.Core.Routing;

// Admission pinned to one team: a request that carries a stored object's id (a previous_response_id, a stored
// response or a deferred completion) can only be answered by a key of the team that holds the object; any other key
// answers 404 and the user's conversation looks lost. So a pinned request never spills: it takes a key of that team
// (the user's own first, for its prompt cache), waits for that team's budget like any request
// (RoutingOptions.MaxQueueWait), and is otherwise refused with a Retry-After of that team alone.
// It passes the promise ledger by: promises are slots of the whole pool, and this request cannot go where they are.
public sealed partial class KeyPoolRouter
{
    /// <summary>
    /// Admits <paramref name="userId"/>'s request to a key of <paramref name="team"/> only, without waiting; null when
    /// none of its keys can take it now, or <paramref name="pool"/> has no key of that team. A null team admits as usual.
    /// </summary>
    public Admission? TryAdmit(PoolSnapshot pool, int userGroup, int modelId, long tokens, int excludeGroup, string? userId, string? team)
    {
        ArgumentNullException.ThrowIfNull(pool);
        if (team is null)
        {
            return TryAdmit(pool, userGroup, modelId, tokens, excludeGroup, userId);
        }
        if (TeamMembers(pool, team) is not { } members)
        {
            return null;
        }
        var second = Second;
        var request = userId is null
            ? new SelectionRequest(userGroup, modelId, tokens, second, excludeGroup)
            : new SelectionRequest(userGroup, modelId, tokens, second, excludeGroup, Fairness, FairShare.Hash(userId));
        Admission admission = default;
        var admitted = pool.Find(userGroup) is { } own && own.Team == team && pool.TryAdmit(own, request, RouteReason.Sticky, out admission);
        for (var i = 0; !admitted && i < members.Length; i++)
        {
            admitted = members[i].Group != userGroup && pool.TryAdmit(members[i], request, RouteReason.Spill, out admission);
        }
        if (!admitted)
        {
            return null;
        }
        Stats.Admitted(second, admission.Member.Group == userGroup);
        Demand.Record(second, userId, pool);
        return admission;
    }

    /// <summary>
    /// Admits <paramref name="userId"/>'s request to a key of <paramref name="team"/> only, waiting up to
    /// <see cref="RoutingOptions.MaxQueueWait"/> for that team's budget; null when none came. A null team admits as usual.
    /// </summary>
    public ValueTask<Admission?> AdmitAsync(PoolSnapshot pool, int userGroup, int modelId, long tokens, int excludeGroup, string? userId, string? team, CancellationToken cancellationToken)
    {
        if (team is null)
        {
            return AdmitAsync(pool, userGroup, modelId, tokens, excludeGroup, userId, cancellationToken);
        }
        if (TryAdmit(pool, userGroup, modelId, tokens, excludeGroup, userId, team) is { } admission)
        {
            return ValueTask.FromResult<Admission?>(admission);
        }
        if (_options.MaxQueueWait <= TimeSpan.Zero || TeamMembers(pool, team) is null)
        {
            return ValueTask.FromResult(Refuse(pool, userGroup));
        }
        return new ValueTask<Admission?>(_queue.WaitAsync(pool, userGroup, modelId, tokens, excludeGroup, userId, cancellationToken, team));
    }

    /// <summary>Seconds a request pinned to <paramref name="team"/> should wait: until the soonest budget of that team frees.</summary>
    public int RetryAfterSecondsOnTeam(PoolSnapshot pool, int modelId, string team)
    {
        ArgumentNullException.ThrowIfNull(pool);
        var second = Second;
        var best = 60;
        foreach (var member in TeamMembers(pool, team) ?? [])
        {
            if (member.Health.State is KeyState.Active)
            {
                best = Math.Min(best, pool.Window(member, modelId).SecondsUntilFree(second));
            }
        }
        return Math.Max(1, best);
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
