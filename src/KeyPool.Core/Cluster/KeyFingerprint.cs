using System.Security.Cryptography;
using System.Text;
using KeyPool.Core.Keys;

namespace KeyPool.Core.Cluster;

/// <summary>
/// A short SHA-256 prefix of an upstream key: lets instances agree they mean the same key without
/// sharing it. Keys are long random strings, so 48 bits of their hash reveal nothing usable.
/// </summary>
public static class KeyFingerprint
{
    /// <summary>12 hex digits of the key's SHA-256.</summary>
    public static string Of(UpstreamKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(key.Secret), hash);
        return Convert.ToHexStringLower(hash[..6]);
    }
}
