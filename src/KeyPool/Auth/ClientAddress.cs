using System.Net;
using System.Net.Sockets;

namespace KeyPool.Auth;

/// <summary>The source an admin attempt is counted against.</summary>
internal static class ClientAddress
{
    /// <summary>
    /// The IPv4 address, or the /64 of an IPv6 one: a single IPv6 host is usually handed a whole /64,
    /// so counting addresses one by one would let it change address at every guess.
    /// </summary>
    public static string SourceOf(IPAddress? address)
    {
        if (address is null)
        {
            return "unknown";
        }
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }
        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return address.ToString();
        }
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        bytes[8..].Clear();
        return new IPAddress(bytes).ToString() + "/64";
    }
}
