namespace KeyPool.Core.Routing;

/// <summary>
/// The user's own key while it is healthy and within budget (prompt-cache hits); otherwise this one
/// request spills to the better of two random healthy keys (power of two choices: near-best
/// balance without scanning the pool), and the user keeps their group.
/// </summary>
internal sealed class StickyWithSpilloverPolicy(RoutingOptions options, Random random) : IKeySelectionPolicy
{
    public string Name => KeySelectionPolicies.StickyWithSpillover;

    public Admission? Select(PoolSnapshot pool, in SelectionRequest request)
    {
        var own = pool.Find(request.UserGroup);
        if (own is not null && pool.TryAdmit(own, request, RouteReason.Sticky, out var sticky))
        {
            return sticky;
        }
        var reason = own is null ? RouteReason.MissingKeyFallback : RouteReason.Spill;
        if (own is null && options.MissingKeyFallback == MissingKeyFallback.KeyGroupOne
            && pool.Find(1) is { } first && pool.TryAdmit(first, request, reason, out var groupOne))
        {
            return groupOne;
        }
        return Spill(pool, request, own, reason);
    }

    private Admission? Spill(PoolSnapshot pool, in SelectionRequest request, PoolMember? own, RouteReason reason)
    {
        var members = pool.Members;
        var count = members.Count;
        if (count == 0)
        {
            return null;
        }
        for (var round = 0; round < 2; round++)
        {
            var a = members[random.Next(count)];
            var b = members[random.Next(count)];
            var best = Better(pool, request, a, b, own);
            if (best is not null && pool.TryAdmit(best, request, reason, out var admission))
            {
                return admission;
            }
        }
        // Both picks were full: walk the pool once from a random start before giving up.
        var start = random.Next(count);
        for (var i = 0; i < count; i++)
        {
            var member = members[(start + i) % count];
            if (member != own && pool.TryAdmit(member, request, reason, out var admission))
            {
                return admission;
            }
        }
        return null;
    }

    private static PoolMember? Better(PoolSnapshot pool, in SelectionRequest request, PoolMember a, PoolMember b, PoolMember? own)
    {
        var headroomA = a == own || a.Group == request.ExcludeGroup ? -1 : pool.Headroom(a, request.ModelId, request.Second);
        var headroomB = b == own || b.Group == request.ExcludeGroup ? -1 : pool.Headroom(b, request.ModelId, request.Second);
        var best = headroomA >= headroomB ? (a, headroomA) : (b, headroomB);
        return best.Item2 > 0 ? best.Item1 : null;
    }
}
