namespace KeyPool.Core.Users;

/// <summary>
/// The fewest moves that leave the available groups within one user of each other: every user of a
/// group without a key moves, and groups above their target give their surplus to groups below.
/// The extra users of an uneven split stay with the groups that already have the most, so they do not move.
/// </summary>
/// <param name="Give">Users to move out, by group (removed groups first in <see cref="GiveOrder"/>).</param>
/// <param name="Take">Users to move in, by group.</param>
/// <param name="Targets">Users each available group will have.</param>
public sealed record RebalancePlan(IReadOnlyDictionary<int, long> Give, IReadOnlyDictionary<int, long> Take, IReadOnlyDictionary<int, long> Targets)
{
    /// <summary>Users that move.</summary>
    public long Moves => Give.Values.Sum();

    /// <summary>Groups that give users, those without a key first.</summary>
    public IReadOnlyList<int> GiveOrder => Give.Keys.OrderBy(g => Targets.ContainsKey(g) ? 1 : 0).ThenBy(g => g).ToArray();

    /// <summary>Plans the moves for <paramref name="counts"/> (users per group) over <paramref name="available"/> groups.</summary>
    public static RebalancePlan For(IReadOnlyDictionary<int, long> counts, IReadOnlyList<int> available)
    {
        ArgumentNullException.ThrowIfNull(counts);
        ArgumentNullException.ThrowIfNull(available);
        if (available.Count == 0)
        {
            throw new InvalidOperationException("No key group is available to rebalance onto.");
        }
        var total = counts.Values.Sum();
        var share = total / available.Count;
        var extra = total % available.Count;
        var targets = available
            .OrderByDescending(g => counts.GetValueOrDefault(g))
            .ThenBy(g => g)
            .Select((g, i) => (Group: g, Target: share + (i < extra ? 1 : 0)))
            .ToDictionary(t => t.Group, t => t.Target);
        var give = new Dictionary<int, long>();
        var take = new Dictionary<int, long>();
        foreach (var (group, count) in counts)
        {
            var target = targets.TryGetValue(group, out var t) ? t : 0;
            if (count > target)
            {
                give[group] = count - target;
            }
        }
        foreach (var (group, target) in targets)
        {
            var count = counts.GetValueOrDefault(group);
            if (count < target)
            {
                take[group] = target - count;
            }
        }
        return new RebalancePlan(give, take, targets);
    }
}

/// <summary>Moves users between groups in batches (<c>keypool rebalance</c>).</summary>
public interface IUserRebalancer
{
    /// <summary>
    /// Plans with <see cref="RebalancePlan.For"/> on the current counts and, unless <paramref name="dryRun"/>,
    /// carries it out in committed batches of <paramref name="batchSize"/> scanned users. Safe to interrupt
    /// and run again: each run plans from the counts as they are. Reports users moved so far.
    /// </summary>
    Task<RebalanceResult> RebalanceAsync(IReadOnlyList<int> availableGroups, bool dryRun, int batchSize, IProgress<long>? progress, CancellationToken cancellationToken);
}

/// <summary>What a rebalance planned and did.</summary>
public sealed record RebalanceResult(RebalancePlan Plan, long Moved);
