namespace KeyPool.Core.Routing;

/// <summary>Requests in flight per key group, for least-loaded choices.</summary>
public sealed class InFlightTracker
{
    private readonly int[] _counts;

    /// <summary>Tracks groups 0..<paramref name="maxGroup"/>.</summary>
    public InFlightTracker(int maxGroup)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxGroup);
        _counts = new int[maxGroup + 1];
    }

    /// <summary>Requests in flight on <paramref name="group"/>.</summary>
    public int this[int group] => (uint)group < (uint)_counts.Length ? Volatile.Read(ref _counts[group]) : 0;

    /// <summary>Marks a request started; dispose the result when it ends.</summary>
    public Lease Start(int group)
    {
        if ((uint)group >= (uint)_counts.Length)
        {
            return default;
        }
        Interlocked.Increment(ref _counts[group]);
        return new Lease(this, group);
    }

    /// <summary>One request in flight; a struct so starting one allocates nothing.</summary>
    public readonly struct Lease(InFlightTracker? owner, int group) : IDisposable
    {
        /// <summary>Ends the request.</summary>
        public void Dispose()
        {
            if (owner is not null)
            {
                Interlocked.Decrement(ref owner._counts[group]);
            }
        }
    }
}
