using Aeterna.Addresses;
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
            socket = ListenerSockets.Bind(new ListenerAddress(config.Kind, config.Host, config.Port, config.Path), config.Backlog);
        }
        catch (SocketException e)
        {
            string fix = e.SocketErrorCode switch
            {
                SocketError.AddressAlreadyInUse => "stop the process that holds it (ss -ltnp shows it), or choose another address",
                SocketError.AccessDenied => "ports below 1024 need root or CAP_NET_BIND_SERVICE; use a higher port",
                SocketError.AddressNotAvailable => "the host is not an address of this machine; use 0.0.0.0, [::] or a local address",
                SocketError.HostNotFound => "the host name does not resolve; use an IP address",
                _ => "check the address in the listeners section",
            };
            throw new ListenerBindException($"cannot bind listener '{config.Name}' ({config.Address}): {e.Message}. Fix: {fix}.");
        }
        return new BoundListener(config, socket, SocketInode.Of((int)socket.SafeHandle.DangerousGetHandle()));
    }
}

/// <summary>A listener could not be bound; the message names the listener, the cause and the fix.</summary>
internal sealed class ListenerBindException(string message) : Exception(message);
