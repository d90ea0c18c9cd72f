namespace KeyPool.Core.Health;

/// <summary>
/// Grades the pool by how many keys can serve: ≥ 25 EXCELLENT, ≥ 10 GOOD, ≥ 3 FAIR,
/// ≥ 1 LIMITED, 0 CRITICAL (the thresholds are documented in the README).
/// </summary>
public static class HealthGrader
{
    /// <summary>Usable keys needed for EXCELLENT.</summary>
    public const int ExcellentKeys = 25;
    /// <summary>Usable keys needed for GOOD.</summary>
    public const int GoodKeys = 10;
    /// <summary>Usable keys needed for FAIR.</summary>
    public const int FairKeys = 3;

    /// <summary>Grades <paramref name="totalKeys"/> detected keys of which <paramref name="usableKeys"/> can serve now.</summary>
    /// <param name="totalKeys">Keys detected.</param>
    /// <param name="usableKeys">Keys that can serve now (not revoked, not cooling down).</param>
    /// <param name="capacity">Per-key figures.</param>
    /// <param name="reason">Why some keys are not usable (e.g. "2 keys revoked"); appended to the message.</param>
    public static PoolHealth Grade(int totalKeys, int usableKeys, CapacityOptions capacity, string? reason = null)
    {
        ArgumentNullException.ThrowIfNull(capacity);
        var (status, message) = usableKeys switch
        {
            >= ExcellentKeys => (HealthStatuses.Excellent, "Excellent capacity - ready for viral scale!"),
            >= GoodKeys => (HealthStatuses.Good, "Good capacity - can handle significant traffic"),
            >= FairKeys => (HealthStatuses.Fair, "Fair capacity - add keys before a traffic spike"),
            >= 1 => (HealthStatuses.Limited, "Limited capacity - add more keys to scale"),
            _ => (HealthStatuses.Critical, "No usable API keys - requests will fail"),
        };
        if (!string.IsNullOrEmpty(reason))
        {
            message = $"{message} ({reason})";
        }
        var estimate = new EstimatedCapacity(
            capacity.DailyUsersPerKey * usableKeys,
            capacity.ConcurrentUsersPerKey * usableKeys,
            capacity.RequestsPerDayPerKey * usableKeys);
        return new PoolHealth(usableKeys > 0, totalKeys, status, message, estimate);
    }
}
