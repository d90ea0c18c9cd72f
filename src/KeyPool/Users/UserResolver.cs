using KeyPool.Configuration;
using KeyPool.Core.Routing;
using KeyPool.Core.Users;
using Microsoft.Extensions.Options;

namespace KeyPool.Users;

/// <summary>
/// Finds a user's key group: the bounded cache first, the store on a miss, and a least-loaded
/// assignment for a user seen for the first time. Only misses touch the database.
/// </summary>
internal sealed class UserResolver(IUserStore store, UserGroupCache cache, IOptions<UsersOptions> options)
{
    private readonly UsersOptions _options = options.Value;

    /// <summary>The user, registering them when allowed; null when unknown and auto-registration is off.</summary>
    public ValueTask<UserRecord?> ResolveAsync(string userId, PoolSnapshot pool, CancellationToken cancellationToken) =>
        cache.TryGet(userId, out var user)
            ? ValueTask.FromResult<UserRecord?>(user)
            : new ValueTask<UserRecord?>(LoadAsync(userId, pool, cancellationToken));

    /// <summary>Registers a user (or returns the existing one) in the least-loaded usable group of <paramref name="pool"/> (present, not revoked).</summary>
    public async Task<UserAssignment> RegisterAsync(string userId, string? tier, PoolSnapshot pool, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(pool);
        var assignment = await store.GetOrAssignAsync(userId, tier ?? _options.DefaultTier, SignUpGroups.Of(pool, pool.Ring.Groups), cancellationToken).ConfigureAwait(false);
        cache.Set(assignment.User);
        return assignment;
    }

    /// <summary>The stored user, read through the cache.</summary>
    public async Task<UserRecord?> FindAsync(string userId, CancellationToken cancellationToken)
    {
        if (cache.TryGet(userId, out var cached))
        {
            return cached;
        }
        var user = await store.FindAsync(userId, cancellationToken).ConfigureAwait(false);
        if (user is not null)
        {
            cache.Set(user);
        }
        return user;
    }

    /// <summary>Changes a user's tier and/or group in the store and in this instance's cache at once; null when unknown.</summary>
    public async Task<UserRecord?> UpdateAsync(string userId, string? tier, int? apiKeyGroup, CancellationToken cancellationToken)
    {
        var updated = await store.UpdateAsync(userId, tier, apiKeyGroup, cancellationToken).ConfigureAwait(false);
        if (updated is not null)
        {
            cache.Remove(userId);
            cache.Set(updated);
        }
        return updated;
    }

    /// <summary>Why <paramref name="userId"/> cannot name a user (<see cref="UserIdGrammar"/>), or null; <paramref name="source"/> says where ids come from.</summary>
    public static string? Validate(string? userId, string source = "the X-KeyPool-User header or the body's \"user\" field") =>
        string.IsNullOrEmpty(userId) ? $"Name the end user in {source}." : UserIdGrammar.Problem(userId);

    private async Task<UserRecord?> LoadAsync(string userId, PoolSnapshot pool, CancellationToken cancellationToken)
    {
        if (await FindAsync(userId, cancellationToken).ConfigureAwait(false) is { } known)
        {
            return known;
        }
        return _options.AutoRegister && pool.Ring.Count > 0
            ? (await RegisterAsync(userId, null, pool, cancellationToken).ConfigureAwait(false)).User
            : null;
    }
}
