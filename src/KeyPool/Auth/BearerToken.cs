using System.Security.Cryptography;
using System.Text;

namespace KeyPool.Auth;

/// <summary>Reads and compares bearer tokens without leaking their content through timing.</summary>
internal static class BearerToken
{
    public static ReadOnlySpan<char> From(HttpRequest request)
    {
        var header = request.Headers.Authorization;
        if (header.Count != 1)
        {
            return default;
        }
        var value = header[0].AsSpan().Trim();
        return value.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? value[7..].Trim() : default;
    }

    /// <summary>Constant-time in the token's content; an empty expected token never matches.</summary>
    public static bool Matches(ReadOnlySpan<char> presented, byte[] expectedUtf8)
    {
        if (presented.IsEmpty || expectedUtf8.Length == 0)
        {
            return false;
        }
        Span<byte> buffer = stackalloc byte[256];
        var max = Encoding.UTF8.GetMaxByteCount(presented.Length);
        var bytes = max <= buffer.Length ? buffer : new byte[max];
        var written = Encoding.UTF8.GetBytes(presented, bytes);
        return CryptographicOperations.FixedTimeEquals(bytes[..written], expectedUtf8);
    }
}
