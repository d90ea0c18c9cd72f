using KeyPool.Core.Tables;

namespace KeyPool.Core.Users;

/// <summary>
/// A bounded user → record cache so the request path does not read the store for active users. At most
/// <c>capacity</c> users are held (the least recently used leave first), so 5,000,000 stored users never all
/// sit in memory.
/// </summary>
public sealed class UserGroupCache
{
    private readonly BoundedTable<string, UserRecord> _users;

    /// <summary>Creates a cache holding up to <paramref name="capacity"/> users (at least 2).</summary>
    /// <param name="capacity">The most users held.</param>
    /// <param name="time">The clock that orders uses (the system clock when null).</param>
    public UserGroupCache(int capacity, TimeProvider? time = null) =>
        _users = new BoundedTable<string, UserRecord>(capacity, time ?? TimeProvider.System, comparer: StringComparer.Ordinal);

    /// <summary>Users currently held.</summary>
    public int Count => _users.Count;

    /// <summary>Looks a user up; never allocates.</summary>
    public bool TryGet(string userId, out UserRecord user) => _users.TryGet(userId, out user);

    /// <summary>Adds or replaces a user.</summary>
    public void Set(UserRecord user)
    {
        ArgumentNullException.ThrowIfNull(user);
        _users.Set(user.Id, user);
    }

    /// <summary>Forgets a user (after a move, so the next request reads the store).</summary>
    public void Remove(string userId) => _users.Remove(userId);

    /// <summary>Forgets everyone (after users were moved in bulk).</summary>
    public void Clear() => _users.Clear();
}
