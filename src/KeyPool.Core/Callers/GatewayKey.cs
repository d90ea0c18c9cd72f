namespace KeyPool.Core.Callers;

/// <summary>
/// A per-user gateway key as stored: everything but the secret, which only its holder has.
/// </summary>
/// <param name="Id">Stable id used by the admin API to list and revoke the key (not secret).</param>
/// <param name="UserId">The end user the key names: requests made with it act as this user.</param>
/// <param name="Prefix">The first characters of the secret (<c>kp-ab12…</c>), so an admin can tell keys apart.</param>
/// <param name="CreatedAt">When the key was issued.</param>
/// <param name="RevokedAt">When it was revoked; null while it works.</param>
public sealed record GatewayKey(string Id, string UserId, string Prefix, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt)
{
    /// <summary>True once the key has been revoked: it no longer authenticates.</summary>
    public bool IsRevoked => RevokedAt is not null;
}
