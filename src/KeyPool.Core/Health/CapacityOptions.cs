namespace KeyPool.Core.Health;

/// <summary>Per-key planning figures (<c>KeyPool:Capacity</c>); capacity is these times the usable keys.</summary>
public sealed class CapacityOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "KeyPool:Capacity";

    /// <summary>Daily active users one key carries. Default 30,000 (the original system's figure).</summary>
    public long DailyUsersPerKey { get; set; } = 30_000;

    /// <summary>Concurrent users one key carries. Default 1,000.</summary>
    public long ConcurrentUsersPerKey { get; set; } = 1_000;

    /// <summary>Requests per day one key carries. Default 384,000 (480 RPM with headroom).</summary>
    public long RequestsPerDayPerKey { get; set; } = 384_000;
}
