namespace KeyPool.Core.Routing;

/// <summary>The original system, for comparison: the user's key, or group 1 when the user's group has no key; no spill-over.</summary>
internal sealed class KeyGroupOnePolicy : IKeySelectionPolicy
{
    public string Name => KeySelectionPolicies.KeyGroupOne;

    public Admission? Select(PoolSnapshot pool, in SelectionRequest request)
    {
        var member = pool.Find(request.UserGroup) ?? pool.Find(1);
        var reason = member?.Group == request.UserGroup ? RouteReason.Sticky : RouteReason.MissingKeyFallback;
        return member is not null && pool.TryAdmit(member, request, reason, out var admission) ? admission : null;
    }
}
