using System.Net.Sockets;
using System.Text;

namespace Aeterna.Tool.Notify;

/// <summary>
/// sd_notify from the supervisor itself, for when it runs under systemd (Type=notify) or another
/// manager that sets NOTIFY_SOCKET: READY=1 once the first generation is ready, RELOADING=1 during
/// a relay, STOPPING=1 at stop, STATUS= with the active generation. A path or an abstract
/// ('@') name; without NOTIFY_SOCKET every call does nothing.
/// </summary>
internal sealed class SupervisorNotifier : IDisposable
{
    private readonly Socket? _socket;
    private readonly UnixDomainSocketEndPoint? _target;

    public SupervisorNotifier(string? notifySocket)
    {
        if (string.IsNullOrEmpty(notifySocket) || (notifySocket[0] != '/' && notifySocket[0] != '@')) return;
        // An abstract name is written '@name' and means a leading NUL byte.
        _target = new UnixDomainSocketEndPoint(notifySocket[0] == '@' ? "\0" + notifySocket[1..] : notifySocket);
        _socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
    }

    public void Send(string message)
    {
        if (_socket is null) return;
        try { _socket.SendTo(Encoding.UTF8.GetBytes(message), _target!); }
        catch (SocketException) { } // the manager went away; supervising goes on
    }

    public void Dispose() => _socket?.Dispose();
}
