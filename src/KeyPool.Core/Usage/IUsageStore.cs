namespace KeyPool.Core.Usage;

/// <summary>The record of usage per key group.</summary>
public interface IUsageStore
{
    /// <summary>Creates the schema when missing. Safe to call on every start.</summary>
    Task InitializeAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Adds <paramref name="deltas"/> to the stored totals in one transaction: all or nothing,
    /// so a failed flush can be retried without double counting.
    /// </summary>
    Task AddAsync(IReadOnlyList<KeyGroupUsage> deltas, CancellationToken cancellationToken);

    /// <summary>The stored totals of every group that has any.</summary>
    Task<IReadOnlyList<KeyGroupUsage>> ReadAllAsync(CancellationToken cancellationToken);
}
