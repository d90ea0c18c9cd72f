namespace KeyPool.Core.Routing;

/// <summary>Every key in turn, skipping keys that cannot take the request; ignores stickiness (loses prompt-cache hits).</summary>
internal sealed class RoundRobinPolicy : IKeySelectionPolicy
{
    private int _next = -1;

    public string Name => KeySelectionPolicies.RoundRobin;

    public Admission? Select(PoolSnapshot pool, in SelectionRequest request)
    {
        var members = pool.Members;
        var count = members.Count;
        if (count == 0)
        {
            return null;
        }
        var start = (int)((uint)Interlocked.Increment(ref _next) % (uint)count);
        for (var i = 0; i < count; i++)
        {
            if (pool.TryAdmit(members[(start + i) % count], request, RouteReason.Balanced, out var admission))
            {
                return admission;
            }
        }
        return null;
    }
}
