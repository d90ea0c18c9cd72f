using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace KeyPool.Core.Callers;

/// <summary>
/// The SHA-256 of a gateway key's secret, held as four words so it can key a dictionary without
/// allocating. A plain hash is enough: the secrets are 256 random bits, so there is nothing to
/// guess from a dictionary of likely keys and no need for a salt or a slow hash.
/// </summary>
[StructLayout(LayoutKind.Auto)]
public readonly struct GatewayKeyHash : IEquatable<GatewayKeyHash>
{
    /// <summary>Length of the hash in bytes.</summary>
    public const int Size = SHA256.HashSizeInBytes;

    private readonly ulong _a;
    private readonly ulong _b;
    private readonly ulong _c;
    private readonly ulong _d;

    private GatewayKeyHash(ReadOnlySpan<byte> hash)
    {
        _a = BinaryPrimitives.ReadUInt64BigEndian(hash);
        _b = BinaryPrimitives.ReadUInt64BigEndian(hash[8..]);
        _c = BinaryPrimitives.ReadUInt64BigEndian(hash[16..]);
        _d = BinaryPrimitives.ReadUInt64BigEndian(hash[24..]);
    }

    /// <summary>Wraps 32 bytes of a stored hash.</summary>
    /// <exception cref="ArgumentException">The span is not <see cref="Size"/> bytes long.</exception>
    public static GatewayKeyHash FromBytes(ReadOnlySpan<byte> hash)
    {
        if (hash.Length != Size)
        {
            throw new ArgumentException($"A gateway key hash has {Size} bytes, not {hash.Length}.", nameof(hash));
        }
        return new GatewayKeyHash(hash);
    }

    /// <summary>Writes the 32 bytes of the hash to <paramref name="destination"/>.</summary>
    public void CopyTo(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination, _a);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], _b);
        BinaryPrimitives.WriteUInt64BigEndian(destination[16..], _c);
        BinaryPrimitives.WriteUInt64BigEndian(destination[24..], _d);
    }

    /// <summary>The 32 bytes of the hash, for storage.</summary>
    public byte[] ToArray()
    {
        var bytes = new byte[Size];
        CopyTo(bytes);
        return bytes;
    }

    /// <summary>
    /// Compares in constant time. Dictionary lookups on the hash are not constant time, which is fine:
    /// timing can at most reveal bits of a hash, and a SHA-256 does not give its secret back.
    /// </summary>
    public bool FixedTimeEquals(GatewayKeyHash other)
    {
        Span<byte> left = stackalloc byte[Size];
        Span<byte> right = stackalloc byte[Size];
        CopyTo(left);
        other.CopyTo(right);
        return CryptographicOperations.FixedTimeEquals(left, right);
    }

    /// <inheritdoc />
    public bool Equals(GatewayKeyHash other) => _a == other._a && _b == other._b && _c == other._c && _d == other._d;

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is GatewayKeyHash other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => (int)_a ^ (int)(_a >> 32); // already uniformly random

    /// <summary>Equal hashes.</summary>
    public static bool operator ==(GatewayKeyHash left, GatewayKeyHash right) => left.Equals(right);

    /// <summary>Different hashes.</summary>
    public static bool operator !=(GatewayKeyHash left, GatewayKeyHash right) => !left.Equals(right);
}
