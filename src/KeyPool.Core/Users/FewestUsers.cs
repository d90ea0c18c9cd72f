namespace KeyPool.Core.Users;

/// <summary>The assignment rule shared by every store: the group with the fewest users, ties to the lowest group.</summary>
public static class FewestUsers
{
    /// <summary>Picks from <paramref name="availableGroups"/> using <paramref name="userCounts"/> (missing = 0).</summary>
    public static int Pick(IReadOnlyList<int> availableGroups, Func<int, long> userCounts)
    {
        ArgumentNullException.ThrowIfNull(availableGroups);
        if (availableGroups.Count == 0)
        {
            throw new InvalidOperationException("No key group is available to assign.");
        }
        var best = -1;
        var bestCount = long.MaxValue;
        foreach (var group in availableGroups)
        {
            var count = userCounts(group);
            if (count < bestCount || (count == bestCount && group < best))
            {
                best = group;
                bestCount = count;
            }
        }
        return best;
    }
}
