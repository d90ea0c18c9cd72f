using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace KeyPool.Core.Callers;

/// <summary>
/// Makes and recognises gateway key secrets: <c>kp-</c> followed by 256 random bits in base64url
/// (43 characters), and hashes them for storage and lookup.
/// </summary>
public static class GatewayKeySecret
{
    /// <summary>What every gateway key starts with, so it is told apart from client tokens and JWTs at a glance.</summary>
    public const string Marker = "kp-";

    /// <summary>Characters of a secret kept, after the marker, in its shown prefix.</summary>
    public const int PrefixCharacters = 4;

    private const int RandomBytes = 32;
    private static readonly int BodyLength = Base64Url.GetEncodedLength(RandomBytes);

    /// <summary>Length of a whole secret, marker included.</summary>
    public static int Length => Marker.Length + BodyLength;

    /// <summary>A new random secret.</summary>
    public static string Generate()
    {
        Span<byte> random = stackalloc byte[RandomBytes];
        RandomNumberGenerator.Fill(random);
        return Marker + Base64Url.EncodeToString(random);
    }

    /// <summary>A new key id: public, random so ids say nothing about how many keys exist.</summary>
    public static string NewId() => "gk_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));

    /// <summary>True when <paramref name="presented"/> has the shape of a gateway key (marker, length, alphabet).</summary>
    public static bool LooksLike(ReadOnlySpan<char> presented)
    {
        if (presented.Length != Length || !presented.StartsWith(Marker, StringComparison.Ordinal))
        {
            return false;
        }
        foreach (var c in presented[Marker.Length..])
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>The shown form of a secret: the marker and a few characters (<c>kp-ab12…</c>).</summary>
    public static string Prefix(ReadOnlySpan<char> secret) =>
        string.Concat(secret[..Math.Min(secret.Length, Marker.Length + PrefixCharacters)], "…");

    /// <summary>The SHA-256 of the secret's UTF-8 bytes, computed without allocating.</summary>
    public static GatewayKeyHash Hash(ReadOnlySpan<char> secret)
    {
        Span<byte> utf8 = stackalloc byte[128];
        var bytes = Encoding.UTF8.GetMaxByteCount(secret.Length) <= utf8.Length ? utf8 : new byte[Encoding.UTF8.GetMaxByteCount(secret.Length)];
        var written = Encoding.UTF8.GetBytes(secret, bytes);
        Span<byte> hash = stackalloc byte[GatewayKeyHash.Size];
        SHA256.HashData(bytes[..written], hash);
        return GatewayKeyHash.FromBytes(hash);
    }
}
