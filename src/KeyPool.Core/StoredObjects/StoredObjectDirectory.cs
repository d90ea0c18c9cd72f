using System.Threading.Channels;

namespace KeyPool.Core.StoredObjects;

/// <summary>
/// Which team holds each stored object, and whose it is. The store (<see cref="IStoredObjectStore"/>) is the truth and
/// holds millions of entries; this process keeps only the most recent ones (<c>cacheCapacity</c>, first in first out)
/// and what it has not written yet (<c>maxPending</c>). A new object goes into both at once, so a follow-up on this
/// instance finds it at once, while a writer (<see cref="FlushAsync"/>, woken by <see cref="WaitForWorkAsync"/>) puts it
/// in the store within a round-trip, off the request path. A follow-up that misses the cache reads the store: that is a
/// follow-up's path, never a first request's. Another instance may ask before the writer's round-trip is over; a miss
/// can be looked up once more after a short delay (<see cref="FindAsync"/>) to close that gap.
/// </summary>
public sealed class StoredObjectDirectory
{
    private readonly IStoredObjectStore _store;
    private readonly TimeProvider _time;
    private readonly int _cacheCapacity;
    private readonly int _maxPending;
    private readonly Lock _cacheLock = new();
    private readonly Dictionary<string, StoredObject> _cache = new(StringComparer.Ordinal);
    private readonly Queue<string> _order = new();
    private readonly Lock _pendingLock = new();
    private List<StoredObject> _added = [];
    private List<string> _removed = [];
    private readonly Channel<bool> _work = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private long _dropped;
    private long _storeReads;

    /// <summary>Creates a directory over <paramref name="store"/>.</summary>
    /// <param name="store">Where entries live.</param>
    /// <param name="cacheCapacity">Entries kept in memory at most (≈ 280 bytes each).</param>
    /// <param name="maxPending">Entries and removals waiting for the store at most (while it is down); more are dropped and counted.</param>
    /// <param name="time">The clock (expiry).</param>
    public StoredObjectDirectory(IStoredObjectStore store, int cacheCapacity, int maxPending, TimeProvider time)
    {
        _store = store ?? throw new ArgumentNullException(nameof(store));
        _time = time ?? throw new ArgumentNullException(nameof(time));
        ArgumentOutOfRangeException.ThrowIfLessThan(cacheCapacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxPending, 1);
        _cacheCapacity = cacheCapacity;
        _maxPending = maxPending;
    }

    /// <summary>Entries in memory now.</summary>
    public int Cached
    {
        get
        {
            lock (_cacheLock)
            {
                return _cache.Count;
            }
        }
    }

    /// <summary>Entries and removals not yet written to the store.</summary>
    public int Pending
    {
        get
        {
            lock (_pendingLock)
            {
                return _added.Count + _removed.Count;
            }
        }
    }

    /// <summary>Entries or removals dropped because the store was down longer than <c>maxPending</c> covers.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Lookups that missed the cache and read the store.</summary>
    public long StoreReads => Interlocked.Read(ref _storeReads);

    /// <summary>Remembers <paramref name="stored"/>: in memory at once, in the store by the writer.</summary>
    public void Record(StoredObject stored)
    {
        ArgumentNullException.ThrowIfNull(stored);
        Cache(stored);
        Enqueue(stored, null);
    }

    /// <summary>Forgets <paramref name="id"/> (deleted upstream), here at once and in the store by the writer.</summary>
    public void Forget(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        lock (_cacheLock)
        {
            _cache.Remove(id); // its place in the order lapses harmlessly
        }
        Enqueue(null, id);
    }

    /// <summary>
    /// The live object with <paramref name="id"/>, or null when unknown or expired: from memory, else from the store.
    /// When the store does not know it either and <paramref name="recheckAfter"/> is positive, the store is read once
    /// more after that delay (another instance may be writing it right now).
    /// </summary>
    /// <exception cref="Storage.StoreUnavailableException">The store cannot be read: nobody can say whose the object is.</exception>
    public async ValueTask<StoredObject?> FindAsync(string id, TimeSpan recheckAfter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(id);
        lock (_cacheLock)
        {
            if (_cache.TryGetValue(id, out var cached))
            {
                return Live(cached);
            }
        }
        var found = await ReadStoreAsync(id, cancellationToken).ConfigureAwait(false);
        if (found is null && recheckAfter > TimeSpan.Zero)
        {
            await Task.Delay(recheckAfter, _time, cancellationToken).ConfigureAwait(false);
            found = await ReadStoreAsync(id, cancellationToken).ConfigureAwait(false);
        }
        if (Live(found) is { } live)
        {
            Cache(live);
            return live;
        }
        return null;
    }

    /// <summary>Completes when entries or removals wait for the store.</summary>
    public async Task WaitForWorkAsync(CancellationToken cancellationToken) =>
        await _work.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// Writes what is pending (entries first, then removals, so an object created and deleted before a flush ends
    /// deleted); returns how many were written. On failure everything is kept for the next flush (up to <c>maxPending</c>).
    /// </summary>
    public async Task<int> FlushAsync(CancellationToken cancellationToken)
    {
        List<StoredObject> added;
        List<string> removed;
        lock (_pendingLock)
        {
            if (_added.Count == 0 && _removed.Count == 0)
            {
                return 0;
            }
            (added, _added) = (_added, []);
            (removed, _removed) = (_removed, []);
        }
        var written = 0;
        try
        {
            if (added.Count > 0)
            {
                await _store.AddAsync(added, cancellationToken).ConfigureAwait(false);
                written = added.Count;
                added.Clear(); // written: a failure of the removals must not queue them again
            }
            if (removed.Count > 0)
            {
                await _store.RemoveAsync(removed, cancellationToken).ConfigureAwait(false);
            }
            return written + removed.Count;
        }
        catch
        {
            Requeue(added, removed);
            throw;
        }
    }

    /// <summary>Deletes expired entries from the store, at most <paramref name="max"/>; returns how many.</summary>
    public Task<int> PurgeAsync(int max, CancellationToken cancellationToken) => _store.PurgeAsync(_time.GetUtcNow(), max, cancellationToken);

    private async Task<StoredObject?> ReadStoreAsync(string id, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _storeReads);
        return await _store.FindAsync(id, cancellationToken).ConfigureAwait(false);
    }

    private StoredObject? Live(StoredObject? stored) => stored is not null && stored.ExpiresAt > _time.GetUtcNow() ? stored : null;

    private void Cache(StoredObject stored)
    {
        lock (_cacheLock)
        {
            if (_cache.TryAdd(stored.Id, stored))
            {
                _order.Enqueue(stored.Id);
            }
            else
            {
                _cache[stored.Id] = stored;
            }
            // The order may hold ids forgotten since (a few: deletes are rare): trimmed with the cache, it stays bounded too.
            while (_cache.Count > _cacheCapacity || _order.Count > _cacheCapacity + (_cacheCapacity / 8))
            {
                _cache.Remove(_order.Dequeue());
            }
        }
    }

    private void Enqueue(StoredObject? added, string? removed)
    {
        lock (_pendingLock)
        {
            if (_added.Count + _removed.Count >= _maxPending)
            {
                Interlocked.Increment(ref _dropped);
                return;
            }
            if (added is not null)
            {
                _added.Add(added);
            }
            else
            {
                _removed.Add(removed!);
            }
        }
        _work.Writer.TryWrite(true);
    }

    private void Requeue(List<StoredObject> added, List<string> removed)
    {
        lock (_pendingLock)
        {
            var room = _maxPending - _added.Count - _removed.Count;
            var keptAdds = added.Take(Math.Max(0, room)).ToList();
            room -= keptAdds.Count;
            var keptRemovals = removed.Take(Math.Max(0, room)).ToList();
            Interlocked.Add(ref _dropped, added.Count + removed.Count - keptAdds.Count - keptRemovals.Count);
            _added.InsertRange(0, keptAdds);
            _removed.InsertRange(0, keptRemovals);
        }
    }
}
