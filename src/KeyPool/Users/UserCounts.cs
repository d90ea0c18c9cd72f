using KeyPool.Core.Storage;
using KeyPool.Core.Users;

namespace KeyPool.Users;

/// <summary>
/// Users per key group for the health endpoint and metrics. Read from the store each time, but the last answer
/// is kept: while the store is down (or reconnecting after a restart) the health endpoint is needed most, so it
/// answers with the last known counts instead of a 503.
/// </summary>
internal sealed class UserCounts(IUserStore users, TimeProvider time)
{
    private volatile Snapshot? _last;

    /// <summary>Counts, and when they were read (not now when the store could not be reached).</summary>
    public sealed record Snapshot(IReadOnlyDictionary<int, long> ByGroup, DateTimeOffset ReadAt, bool Stale);

    /// <summary>The last counts read, without asking the store (null before the first read).</summary>
    public Snapshot? Last => _last;

    public async Task<Snapshot> ReadAsync(CancellationToken cancellationToken)
    {
        try
        {
            var counts = await users.CountUsersByGroupAsync(cancellationToken).ConfigureAwait(false);
            var snapshot = new Snapshot(counts, time.GetUtcNow(), Stale: false);
            _last = snapshot;
            return snapshot;
        }
        catch (StoreUnavailableException) when (_last is { } last)
        {
            return last with { Stale = true };
        }
    }
}
