namespace KeyPool.Core.Cluster;

/// <summary>Whether the state shared between instances is reachable; read by the health endpoint.</summary>
public sealed class ClusterHealth
{
    private volatile string? _degradedReason;

    /// <summary>Why shared state is unavailable, or null when all is well (or nothing is shared).</summary>
    public string? DegradedReason => _degradedReason;

    /// <summary>The N of the 1/N fallback: configured, else the instances counted at the last heartbeat (1 before the first).</summary>
    public int Instances { get; internal set; } = 1;

    /// <summary>Marks shared state unavailable. Returns true when it was available before (log once).</summary>
    public bool MarkDown(string reason) => Interlocked.Exchange(ref _degradedReason, reason) is null;

    /// <summary>Marks shared state available. Returns true when it was unavailable before.</summary>
    public bool MarkUp() => Interlocked.Exchange(ref _degradedReason, null) is not null;
}
