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
    private Generation _young;
    private Generation _old;

    /// <summary>Creates a cache holding up to <paramref name="capacity"/> users (at least 2).</summary>
    public UserGroupCache(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 2);
        _generationSize = capacity / 2;
        _young = new Generation(_generationSize);
        _old = new Generation(_generationSize);
    }

    /// <summary>Users currently held (both generations; a promoted user may be counted twice briefly).</summary>
    public int Count => _young.Users.Count + _old.Users.Count;

    /// <summary>Looks a user up; allocation-free unless the user is promoted from the old generation.</summary>
    public bool TryGet(string userId, out UserRecord user)
    {
        if (_young.Users.TryGetValue(userId, out user!))
        {
            return true;
        }
        if (_old.Users.TryGetValue(userId, out user!))
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
        if (young.Users.TryAdd(user.Id, user))
        {
            // A counter of our own: ConcurrentDictionary.Count takes every bucket lock.
            if (Interlocked.Increment(ref young.Added) >= _generationSize)
            {
                Rotate(young);
            }
        }
        else
        {
            young.Users[user.Id] = user;
        }
    }

    /// <summary>Forgets a user (after a move, so the next request reads the store).</summary>
    public void Remove(string userId)
    {
        _young.Users.TryRemove(userId, out _);
        _old.Users.TryRemove(userId, out _);
    }

    /// <summary>Forgets everyone (after users were moved in bulk).</summary>
    public void Clear()
    {
        lock (_rotateLock)
        {
            _young = new Generation(_generationSize);
            _old = new Generation(_generationSize);
        }
    }

    private void Rotate(Generation full)
    {
        lock (_rotateLock)
        {
            if (!ReferenceEquals(_young, full))
            {
                return; // another thread rotated already
            }
            _old = full;
            _young = new Generation(_generationSize);
        }
    }

    private sealed class Generation(int size)
    {
        public readonly ConcurrentDictionary<string, UserRecord> Users = new(Environment.ProcessorCount, Math.Min(size, 1 << 16), StringComparer.Ordinal);
        public int Added;
    }
}
