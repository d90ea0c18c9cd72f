using System.Collections.Concurrent;

namespace KeyPool.Core.Users;

/// <summary>
/// A bounded user → record cache so the request path does not read the store for active users.
/// Two generations approximate LRU without per-hit bookkeeping: hits in the old generation are
/// promoted; when the young one fills, the old one is dropped whole. At most
/// <c>capacity</c> users are held, so 5,000,000 stored users never all sit in memory.
/// </summary>
public sealed class UserGroupCache
{
    private readonly int _generationSize;
    private readonly Lock _rotateLock = new();
    private ConcurrentDictionary<string, UserRecord> _young;
    private ConcurrentDictionary<string, UserRecord> _old;

    /// <summary>Creates a cache holding up to <paramref name="capacity"/> users (at least 2).</summary>
    public UserGroupCache(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 2);
        _generationSize = capacity / 2;
        _young = NewGeneration();
        _old = NewGeneration();
    }

    /// <summary>Users currently held (both generations; a promoted user may be counted twice briefly).</summary>
    public int Count => _young.Count + _old.Count;

    /// <summary>Looks a user up without allocating.</summary>
    public bool TryGet(string userId, out UserRecord user)
    {
        if (_young.TryGetValue(userId, out user!))
        {
            return true;
        }
        if (_old.TryGetValue(userId, out user!))
        {
            Set(user);
            return true;
        }
        return false;
    }

    /// <summary>Adds or replaces a user.</summary>
    public void Set(UserRecord user)
    {
        ArgumentNullException.ThrowIfNull(user);
        var young = _young;
        young[user.Id] = user;
        if (young.Count >= _generationSize)
        {
            Rotate(young);
        }
    }

    /// <summary>Forgets a user (after a move, so the next request reads the store).</summary>
    public void Remove(string userId)
    {
        _young.TryRemove(userId, out _);
        _old.TryRemove(userId, out _);
    }

    /// <summary>Forgets everyone (after users were moved in bulk).</summary>
    public void Clear()
    {
        lock (_rotateLock)
        {
            _young = NewGeneration();
            _old = NewGeneration();
        }
    }

    private void Rotate(ConcurrentDictionary<string, UserRecord> full)
    {
        lock (_rotateLock)
        {
            if (!ReferenceEquals(_young, full))
            {
                return; // another thread rotated already
            }
            _old = full;
            _young = NewGeneration();
        }
    }

    private ConcurrentDictionary<string, UserRecord> NewGeneration() =>
        new(Environment.ProcessorCount, Math.Min(_generationSize, 1 << 16), StringComparer.Ordinal);
}
