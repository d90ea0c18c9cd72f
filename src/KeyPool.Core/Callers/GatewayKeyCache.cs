using KeyPool.Core.Tables;

namespace KeyPool.Core.Callers;

/// <summary>
/// Active gateway keys by the hash of their secret, so a steady caller is authenticated from
/// memory. Bounded like the user cache (the least recently used keys leave first) and with a time
/// to live, so a key revoked by another instance stops working here within that time; a key
/// revoked on this instance is removed at once.
/// </summary>
public sealed class GatewayKeyCache
{
    private readonly BoundedTable<GatewayKeyHash, Entry> _keys;
    private readonly long _timeToLiveTicks;
    private readonly TimeProvider _time;
    private long _removals;

    /// <summary>Creates a cache of up to <paramref name="capacity"/> keys (at least 2), each trusted for <paramref name="timeToLive"/>.</summary>
    public GatewayKeyCache(int capacity, TimeSpan timeToLive, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 2);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(timeToLive, TimeSpan.Zero);
        ArgumentNullException.ThrowIfNull(time);
        _time = time;
        _timeToLiveTicks = (long)(timeToLive.TotalSeconds * time.TimestampFrequency);
        _keys = new BoundedTable<GatewayKeyHash, Entry>(capacity, time);
    }

    /// <summary>
    /// Changes whenever a key is removed. Read it before loading a key from the store and pass it to
    /// <see cref="Set(GatewayKeyHash, GatewayKey, long)"/>, so a load that raced a revocation is not cached.
    /// </summary>
    public long Version => Volatile.Read(ref _removals);

    /// <summary>Keys currently held.</summary>
    public int Count => _keys.Count;

    /// <summary>The active key with this hash, when held and not expired; never allocates.</summary>
    public bool TryGet(GatewayKeyHash hash, out GatewayKey key)
    {
        if (_keys.TryGet(hash, out var entry))
        {
            if (_time.GetTimestamp() - entry.CachedAt < _timeToLiveTicks && entry.Hash.FixedTimeEquals(hash))
            {
                key = entry.Key;
                return true;
            }
            _keys.Remove(hash, entry); // expired: read the store again, which also sees revocations made elsewhere
        }
        key = null!;
        return false;
    }

    /// <summary>
    /// Holds an active key read from the store when <see cref="Version"/> was <paramref name="versionBeforeRead"/>;
    /// a revoked key, or one read before a removal that happened since, is not held.
    /// </summary>
    public void Set(GatewayKeyHash hash, GatewayKey key, long versionBeforeRead)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (key.IsRevoked)
        {
            return;
        }
        _keys.Set(hash, new Entry(hash, key, _time.GetTimestamp()));
        // Checked after the insert: Remove bumps the version before it removes, so either it sees
        // this entry or this check sees its version.
        if (Version != versionBeforeRead)
        {
            _keys.Remove(hash);
        }
    }

    /// <summary>Forgets a key, so the next use reads the store (after a revocation).</summary>
    public void Remove(GatewayKeyHash hash)
    {
        Interlocked.Increment(ref _removals);
        _keys.Remove(hash);
    }

    /// <summary>Forgets every key (revocations elsewhere may have been missed), so each is read from the store again.</summary>
    public void Clear()
    {
        Interlocked.Increment(ref _removals);
        _keys.Clear();
    }

    private sealed record Entry(GatewayKeyHash Hash, GatewayKey Key, long CachedAt);
}
