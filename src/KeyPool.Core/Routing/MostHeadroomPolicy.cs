namespace KeyPool.Core.Routing;

/// <summary>The key with the most headroom, found by a full scan; ignores stickiness.</summary>
internal sealed class MostHeadroomPolicy : IKeySelectionPolicy
{
    public string Name => KeySelectionPolicies.MostHeadroom;

    public Admission? Select(PoolSnapshot pool, in SelectionRequest request)
    {
        PoolMember? best = null;
        var bestHeadroom = 0.0;
        foreach (var member in pool.Members)
        {
            var headroom = member.Group == request.ExcludeGroup ? 0 : pool.Headroom(member, request.ModelId, request.Second);
            if (headroom > bestHeadroom)
            {
                best = member;
                bestHeadroom = headroom;
            }
        }
        if (best is not null && pool.TryAdmit(best, request, RouteReason.Balanced, out var admission))
        {
            return admission;
        }
        // Lost a race for the best key: take any that still fits.
        foreach (var member in pool.Members)
        {
            if (pool.TryAdmit(member, request, RouteReason.Balanced, out admission))
            {
                return admission;
            }
        }
        return null;
    }
}
