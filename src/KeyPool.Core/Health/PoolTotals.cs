using KeyPool.Core.Usage;

namespace KeyPool.Core.Health;

/// <summary>
/// The whole pool's usage totals as any instance reports them: what the shared store held at the last read, plus what
/// this instance recorded that the read did not include yet (pending, being flushed, or flushed after the read). Every
/// instance reading one store shows the same figures, behind the truth by at most the others' unflushed part (one flush
/// interval). The store is read off the request path, after each flush; when it cannot be read the last figures are
/// served and <see cref="StaleSince"/> says so.
/// </summary>
/// <remarks>
/// Only the sum of records is used (<see cref="KeyGroupUsage.Add"/>), so every counter the record carries is covered.
/// Flushes and reads must not overlap (the flush service runs them one after the other): a batch whose commit raced a
/// read could be counted twice until the next read.
/// </remarks>
public sealed class PoolTotals
{
    private static readonly Dictionary<int, KeyGroupUsage> NoneStored = [];

    private readonly UsageRecorder _recorder;
    private readonly TimeProvider _time;
    private readonly Lock _writeLock = new();
    private View _view = new(NoneStored, [], null, null);
    private long _commits;

    /// <summary>Creates totals over <paramref name="recorder"/>'s unflushed part; zero until the first <see cref="RefreshAsync"/>.</summary>
    public PoolTotals(UsageRecorder recorder, TimeProvider timeProvider)
    {
        _recorder = recorder ?? throw new ArgumentNullException(nameof(recorder));
        _time = timeProvider ?? throw new ArgumentNullException(nameof(timeProvider));
    }

    /// <summary>When the store was last read successfully (null: never).</summary>
    public DateTimeOffset? AsOf => Volatile.Read(ref _view).ReadAt;

    /// <summary>Set while the store cannot be read: the first failed read since the last good one.</summary>
    public DateTimeOffset? StaleSince => Volatile.Read(ref _view).StaleSince;

    /// <summary>The pool's totals of <paramref name="group"/>.</summary>
    public KeyGroupUsage Totals(int group)
    {
        var view = Volatile.Read(ref _view);
        var total = view.Stored.GetValueOrDefault(group) ?? KeyGroupUsage.Zero(group);
        foreach (var batch in view.Unread)
        {
            if (batch.Deltas.TryGetValue(group, out var delta))
            {
                total = total.Add(delta);
            }
        }
        return total.Add(_recorder.Pending(group));
    }

    /// <summary>Flushes the recorder to <paramref name="store"/>, then reads the store's totals (failures of either propagate, the read's after marking the figures stale).</summary>
    public async Task FlushAndRefreshAsync(IUsageStore store, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        try
        {
            await _recorder.FlushAsync(new Tracked(this, store), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            await RefreshAsync(store, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Reads the store's totals; false (and the last figures kept, marked stale) when it cannot be read.</summary>
    public async Task<bool> RefreshAsync(IUsageStore store, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        var committedBefore = Volatile.Read(ref _commits);
        IReadOnlyList<KeyGroupUsage> stored;
        try
        {
            stored = await store.ReadAllAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            lock (_writeLock)
            {
                _view = _view with { StaleSince = _view.StaleSince ?? _time.GetUtcNow() };
            }
            return false;
        }
        var byGroup = new Dictionary<int, KeyGroupUsage>(stored.Count);
        foreach (var row in stored)
        {
            byGroup[row.Group] = byGroup.TryGetValue(row.Group, out var seen) ? seen.Add(row) : row;
        }
        lock (_writeLock)
        {
            // Batches committed before the read began are in it; one still in flight, or committed since, is not.
            var unread = _view.Unread.Where(b => b.Commit == 0 || b.Commit > committedBefore).ToArray();
            Volatile.Write(ref _view, new View(byGroup, unread, _time.GetUtcNow(), null));
        }
        return true;
    }

    private void Publish(Func<View, View> change)
    {
        lock (_writeLock)
        {
            Volatile.Write(ref _view, change(_view));
        }
    }

    private sealed record View(IReadOnlyDictionary<int, KeyGroupUsage> Stored, Batch[] Unread, DateTimeOffset? ReadAt, DateTimeOffset? StaleSince);

    /// <summary>Deltas handed to the store; <see cref="Commit"/> is 0 while in flight, then the commit's sequence number.</summary>
    private sealed record Batch(IReadOnlyDictionary<int, KeyGroupUsage> Deltas, long Commit);

    /// <summary>Watches the recorder's flush: its deltas count as unread from the moment they leave the recorder's pending counts.</summary>
    private sealed class Tracked(PoolTotals owner, IUsageStore inner) : IUsageStore
    {
        public Task InitializeAsync(CancellationToken cancellationToken) => inner.InitializeAsync(cancellationToken);

        public Task<IReadOnlyList<KeyGroupUsage>> ReadAllAsync(CancellationToken cancellationToken) => inner.ReadAllAsync(cancellationToken);

        public async Task AddAsync(IReadOnlyList<KeyGroupUsage> deltas, CancellationToken cancellationToken)
        {
            var byGroup = new Dictionary<int, KeyGroupUsage>(deltas.Count);
            foreach (var delta in deltas)
            {
                byGroup[delta.Group] = byGroup.TryGetValue(delta.Group, out var seen) ? seen.Add(delta) : delta;
            }
            var flying = new Batch(byGroup, 0);
            owner.Publish(v => v with { Unread = [.. v.Unread, flying] });
            try
            {
                await inner.AddAsync(deltas, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                // The recorder puts the deltas back into its pending counts.
                owner.Publish(v => v with { Unread = v.Unread.Where(b => !ReferenceEquals(b, flying)).ToArray() });
                throw;
            }
            var committed = flying with { Commit = Interlocked.Increment(ref owner._commits) };
            owner.Publish(v => v with { Unread = v.Unread.Select(b => ReferenceEquals(b, flying) ? committed : b).ToArray() });
        }
    }
}
