using System.Net;
using System.Net.Sockets;

namespace Aeterna.Tests.Support;

/// <summary>A loopback TCP port that was free a moment ago (the kernel picks it).</summary>
internal static class FreePort
{
    public static int Get()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }
}
