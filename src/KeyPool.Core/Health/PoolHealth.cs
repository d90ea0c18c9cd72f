namespace KeyPool.Core.Health;

/// <summary>The pool's grade, in the original system's shape.</summary>
public sealed record PoolHealth(bool Healthy, int TotalKeys, string Status, string Message, EstimatedCapacity EstimatedCapacity);

/// <summary>What the usable keys can carry.</summary>
public sealed record EstimatedCapacity(long DailyUsers, long ConcurrentUsers, long RequestsPerDay);

/// <summary>The health status names.</summary>
public static class HealthStatuses
{
    /// <summary>25 or more usable keys.</summary>
    public const string Excellent = "EXCELLENT";
    /// <summary>10 to 24 usable keys.</summary>
    public const string Good = "GOOD";
    /// <summary>3 to 9 usable keys.</summary>
    public const string Fair = "FAIR";
    /// <summary>1 or 2 usable keys.</summary>
    public const string Limited = "LIMITED";
    /// <summary>No usable key: every request fails.</summary>
    public const string Critical = "CRITICAL";
    /// <summary>Serving, but the state shared between instances is unreachable: each serves 1/N of every budget.</summary>
    public const string Degraded = "DEGRADED";
}
