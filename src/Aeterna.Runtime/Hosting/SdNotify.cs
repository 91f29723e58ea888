using System.Net.Sockets;
using System.Text;

namespace Aeterna.Hosting;

/// <summary>
/// sd_notify for an app run by a service manager that sets NOTIFY_SOCKET but does not speak the
/// Aeterna protocol (systemd itself): READY=1 once serving, STOPPING=1 at the drain.
/// Microsoft.Extensions.Hosting.Systemd would only do this when its parent is systemd.
/// </summary>
internal static class SdNotify
{
    public static void Send(string message)
    {
        string? path = Environment.GetEnvironmentVariable("NOTIFY_SOCKET");
        if (string.IsNullOrEmpty(path) || (path[0] != '/' && path[0] != '@')) return;
        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            socket.SendTo(Encoding.UTF8.GetBytes(message), new UnixDomainSocketEndPoint(path[0] == '@' ? "\0" + path[1..] : path));
        }
        catch (SocketException) { } // the manager went away; nothing to tell
    }
}
