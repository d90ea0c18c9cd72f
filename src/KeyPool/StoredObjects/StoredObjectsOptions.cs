namespace KeyPool.StoredObjects;

/// <summary>The directory of stored responses and deferred completions (<c>KeyPool:StoredObjects</c>).</summary>
internal sealed class StoredObjectsOptions
{
    public const string Section = "KeyPool:StoredObjects";

    /// <summary>Owners kept in memory (the most recent; the rest are read from the store on a follow-up). Default 50,000 (≈ 280 bytes each, ≈ 15 MB).</summary>
    public int CacheSize { get; set; } = 50_000;

    /// <summary>Owners waiting for the store at most while it is down; more are dropped (counted, logged). Default 100,000.</summary>
    public int MaxPending { get; set; } = 100_000;

    /// <summary>How often expired owners are deleted from the store. Default 1 hour.</summary>
    public TimeSpan PurgeInterval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Expired rows deleted per statement of a purge (it repeats until none are left). Default 10,000.</summary>
    public int PurgeBatch { get; set; } = 10_000;

    /// <summary>
    /// With several instances, how long after a miss the shared store is read once more: the instance that created the
    /// object may be writing it right now. Default 300 ms; 0 never reads twice. Alone, an instance never waits.
    /// </summary>
    public TimeSpan ClusterRecheck { get; set; } = TimeSpan.FromMilliseconds(300);
}
