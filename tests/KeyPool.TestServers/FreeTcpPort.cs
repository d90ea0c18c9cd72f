using System.Net;
using System.Net.Sockets;

namespace KeyPool.TestServers;

/// <summary>A loopback TCP port free at the moment it is asked for (the OS picks it).</summary>
public static class FreeTcpPort
{
    public static int Next()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
