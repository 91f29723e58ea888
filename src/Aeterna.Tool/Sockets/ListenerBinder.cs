using System.Net;
using System.Net.Sockets;
using Aeterna.Tool.Configuration;

namespace Aeterna.Tool.Sockets;

/// <summary>Binds the configured listeners once, at supervisor start.</summary>
internal static class ListenerBinder
{
    /// <summary>Binds every listener or none: on a failure the ones already bound are closed.</summary>
    public static IReadOnlyList<BoundListener> BindAll(IReadOnlyList<ListenerConfig> listeners)
    {
        var bound = new List<BoundListener>();
        try
        {
            foreach (var listener in listeners)
                bound.Add(Bind(listener));
            return bound;
        }
        catch
        {
            foreach (var b in bound) b.Socket.Dispose();
            throw;
        }
    }

    private static BoundListener Bind(ListenerConfig config)
    {
        Socket socket;
        try
        {
            socket = config.Kind switch
            {
                ListenerKind.Unix => BindUnix(config),
                ListenerKind.Tcp => BindIp(config, SocketType.Stream, ProtocolType.Tcp),
                _ => BindIp(config, SocketType.Dgram, ProtocolType.Udp),
            };
        }
        catch (SocketException e)
        {
            string fix = e.SocketErrorCode switch
            {
                SocketError.AddressAlreadyInUse => "stop the process that holds it (ss -ltnp shows it), or choose another address",
                SocketError.AccessDenied => "ports below 1024 need root or CAP_NET_BIND_SERVICE; use a higher port",
                SocketError.AddressNotAvailable => "the host is not an address of this machine; use 0.0.0.0, [::] or a local address",
                _ => "check the address in the listeners section",
            };
            throw new ListenerBindException($"cannot bind listener '{config.Name}' ({config.Address}): {e.Message}. Fix: {fix}.");
        }
        return new BoundListener(config, socket, SocketInode.Of((int)socket.SafeHandle.DangerousGetHandle()));
    }

    private static Socket BindIp(ListenerConfig config, SocketType type, ProtocolType protocol)
    {
        IPAddress address = IPAddress.TryParse(config.Host, out var literal)
            ? literal
            : Dns.GetHostAddresses(config.Host!).FirstOrDefault()
              ?? throw new ListenerBindException($"cannot bind listener '{config.Name}': host '{config.Host}' does not resolve. Fix: use an IP address.");
        var socket = new Socket(address.AddressFamily, type, protocol);
        try
        {
            if (address.Equals(IPAddress.IPv6Any))
                socket.DualMode = true; // like the kernel's default for [::]: IPv4 clients too
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            socket.Bind(new IPEndPoint(address, config.Port));
            if (type == SocketType.Stream)
                socket.Listen(config.Backlog);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static Socket BindUnix(ListenerConfig config)
    {
        string path = config.Path!;
        RemoveStaleSocket(path);
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Bind(new UnixDomainSocketEndPoint(path));
            socket.Listen(config.Backlog);
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
    internal static void RemoveStaleSocket(string path)
    {
        if (!Path.Exists(path)) return;
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try { probe.Connect(new UnixDomainSocketEndPoint(path)); }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused) { File.Delete(path); }
        catch (SocketException) { }
    }
}

/// <summary>A listener could not be bound; the message names the listener, the cause and the fix.</summary>
internal sealed class ListenerBindException(string message) : Exception(message);
