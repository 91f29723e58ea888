using System.Net;
using System.Net.Sockets;

namespace Aeterna.Addresses;

/// <summary>Binds a listening socket for a <see cref="ListenerAddress"/>: the supervisor's listeners, or an app's own when it runs without one.</summary>
internal static class ListenerSockets
{
    /// <summary>Binds (and for stream sockets listens); throws <see cref="SocketException"/> on failure.</summary>
    public static Socket Bind(ListenerAddress address, int backlog)
    {
        return address.Kind switch
        {
            ListenerKind.Unix => BindUnix(address.Path!, backlog),
            ListenerKind.Tcp => BindIp(address, SocketType.Stream, ProtocolType.Tcp, backlog),
            _ => BindIp(address, SocketType.Dgram, ProtocolType.Udp, backlog),
        };
    }

    private static Socket BindIp(ListenerAddress listener, SocketType type, ProtocolType protocol, int backlog)
    {
        IPAddress address = IPAddress.TryParse(listener.Host, out var literal)
            ? literal
            : Dns.GetHostAddresses(listener.Host!).FirstOrDefault()
              ?? throw new SocketException((int)SocketError.HostNotFound);
        var socket = new Socket(address.AddressFamily, type, protocol);
        try
        {
            if (address.Equals(IPAddress.IPv6Any))
                socket.DualMode = true; // like the kernel's default for [::]: IPv4 clients too
            // No SocketOptionName.ReuseAddress: on Linux .NET sets SO_REUSEADDR on its own (a
            // restarted supervisor can bind past TIME_WAIT), and the option would add SO_REUSEPORT,
            // letting a second supervisor bind the same port and silently share its connections.
            socket.Bind(new IPEndPoint(address, listener.Port));
            if (type == SocketType.Stream)
                socket.Listen(backlog);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static Socket BindUnix(string path, int backlog)
    {
        RemoveStaleSocket(path);
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Bind(new UnixDomainSocketEndPoint(path));
            socket.Listen(backlog);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A socket file left by a previous run makes bind fail. It is stale when nobody accepts on it
    /// (connect is refused); a live socket or any other kind of file is left alone.
    /// </summary>
    public static void RemoveStaleSocket(string path)
    {
        if (!Path.Exists(path)) return;
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try { probe.Connect(new UnixDomainSocketEndPoint(path)); }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused) { File.Delete(path); }
        catch (SocketException) { }
    }
}
