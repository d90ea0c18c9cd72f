using KeyPool.Configuration;
using KeyPool.Core.Callers;
using KeyPool.Core.Cluster;
using Microsoft.Extensions.Options;

namespace KeyPool.Auth;

/// <summary>
/// Issues, lists, revokes and checks per-user gateway keys. Checks are answered from a bounded
/// in-memory cache after a key's first use, so a steady caller never waits on the database; a
/// revocation made here removes the key from the cache before it returns.
/// </summary>
internal sealed class GatewayKeyRegistry(
    IGatewayKeyStore store,
    GatewayKeyCache cache,
    IOptions<GatewayOptions> options,
    TimeProvider time,
    ILogger<GatewayKeyRegistry> logger,
    IClusterBus cluster)
{
    private const int MaxRememberedMisses = 10_000;

    // Unknown keys are remembered apart from known ones, so a flood of guesses cannot push real keys out of the cache.
    private readonly GatewayKeyCache _misses = new(MaxRememberedMisses, options.Value.Auth.GatewayKeys.CacheTimeToLive, time);

    public bool Enabled { get; } = options.Value.Auth.GatewayKeys.Enabled;

    /// <summary>The user the presented key names; null when it is not an active gateway key.</summary>
    public ValueTask<string?> AuthenticateAsync(ReadOnlySpan<char> presented, CancellationToken cancellationToken)
    {
        if (!Enabled || !GatewayKeySecret.LooksLike(presented))
        {
            return ValueTask.FromResult<string?>(null);
        }
        var hash = GatewayKeySecret.Hash(presented);
        if (cache.TryGet(hash, out var key))
        {
            return ValueTask.FromResult<string?>(key.UserId);
        }
        return _misses.TryGet(hash, out _)
            ? ValueTask.FromResult<string?>(null)
            : new ValueTask<string?>(LoadAsync(hash, cancellationToken));
    }

    /// <summary>A new key for <paramref name="userId"/>: the stored record and the secret, which is not kept anywhere.</summary>
    public async Task<(GatewayKey Key, string Secret)> IssueAsync(string userId, CancellationToken cancellationToken)
    {
        var secret = GatewayKeySecret.Generate();
        var key = new GatewayKey(GatewayKeySecret.NewId(), userId, GatewayKeySecret.Prefix(secret), time.GetUtcNow(), null);
        await store.AddAsync(key, GatewayKeySecret.Hash(secret), cancellationToken).ConfigureAwait(false);
        AuthLog.GatewayKeyIssued(logger, key.Id, key.Prefix, userId);
        return (key, secret);
    }

    public Task<IReadOnlyList<GatewayKey>> ListAsync(string userId, CancellationToken cancellationToken) =>
        store.ListAsync(userId, cancellationToken);

    /// <summary>Revokes the key and forgets it at once on this instance; false when the user has no such key.</summary>
    public async Task<bool> RevokeAsync(string userId, string keyId, CancellationToken cancellationToken)
    {
        if (await store.RevokeAsync(userId, keyId, cancellationToken).ConfigureAwait(false) is not { } hash)
        {
            return false;
        }
        cache.Remove(hash);
        cluster.Publish(new ClusterEvent(ClusterEventKind.GatewayKeyRevoked, GatewayKeyHash: Convert.ToHexString(hash.ToArray())));
        AuthLog.GatewayKeyRevoked(logger, keyId, userId);
        return true;
    }

    private async Task<string?> LoadAsync(GatewayKeyHash hash, CancellationToken cancellationToken)
    {
        var version = cache.Version;
        var missVersion = _misses.Version;
        var key = await store.FindByHashAsync(hash, cancellationToken).ConfigureAwait(false);
        if (key is null || key.IsRevoked)
        {
            // A 256-bit random secret is never issued twice, so a miss stays a miss until it expires.
            _misses.Set(hash, key ?? new GatewayKey("", "", "", time.GetUtcNow(), time.GetUtcNow()), missVersion);
            return null;
        }
        cache.Set(hash, key, version);
        return key.UserId;
    }
}
