using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;

namespace KeyPool.Telemetry;

/// <summary>
/// Short, stable stand-ins for values that must not be shown as they are (an upstream team id, a user id when
/// configured so): the first 12 hex digits of an HMAC-SHA-256 under a per-deployment salt, so the same value always
/// gives the same fingerprint and nobody can look one up in a table of common ids.
/// </summary>
internal sealed class Fingerprints(string salt)
{
    private const int MaxCached = 4096;
    private readonly byte[] _salt = Encoding.UTF8.GetBytes(salt);
    private readonly ConcurrentDictionary<string, string> _teams = new(StringComparer.Ordinal);

    /// <summary>A team's fingerprint; teams are few, so each is hashed once.</summary>
    public string Team(string team)
    {
        if (_teams.TryGetValue(team, out var known))
        {
            return known;
        }
        var hashed = Of(team);
        if (_teams.Count < MaxCached)
        {
            _teams.TryAdd(team, hashed);
        }
        return hashed;
    }

    public string Of(string value)
    {
        Span<byte> hash = stackalloc byte[32];
        HMACSHA256.HashData(_salt, Encoding.UTF8.GetBytes(value), hash);
        return Convert.ToHexStringLower(hash[..6]);
    }

    /// <summary>The user as <paramref name="mode"/> allows, or null.</summary>
    public string? User(string? userId, UserIdMode mode) => userId is not { Length: > 0 } ? null : mode switch
    {
        UserIdMode.Plain => userId,
        UserIdMode.Hash => Of(userId),
        _ => null,
    };
}
