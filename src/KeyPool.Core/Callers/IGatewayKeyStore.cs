namespace KeyPool.Core.Callers;

/// <summary>
/// Where gateway keys live. Only the SHA-256 of a key's secret is stored (<see cref="GatewayKeyHash"/>);
/// the secret itself is shown once, when the key is issued.
/// </summary>
public interface IGatewayKeyStore
{
    /// <summary>Creates the store's table if missing. Safe to call on every start, from several processes.</summary>
    Task InitializeAsync(CancellationToken cancellationToken);

    /// <summary>Stores a newly issued key with the hash of its secret.</summary>
    Task AddAsync(GatewayKey key, GatewayKeyHash hash, CancellationToken cancellationToken);

    /// <summary>The key whose secret has this hash, revoked or not; null when there is none.</summary>
    Task<GatewayKey?> FindByHashAsync(GatewayKeyHash hash, CancellationToken cancellationToken);

    /// <summary>The keys of one user, oldest first, revoked ones included.</summary>
    Task<IReadOnlyList<GatewayKey>> ListAsync(string userId, CancellationToken cancellationToken);

    /// <summary>
    /// Revokes the key <paramref name="keyId"/> of <paramref name="userId"/> (a key already revoked keeps its
    /// first revocation time). Returns the hash of its secret, so caches can drop it; null when that user has no such key.
    /// </summary>
    Task<GatewayKeyHash?> RevokeAsync(string userId, string keyId, CancellationToken cancellationToken);
}
