using System.Net.Sockets;
using Aeterna.Interop;

namespace Aeterna.Connections;

/// <summary>
/// errno from recv(2), send(2) or epoll_ctl(2) as the <see cref="SocketException"/> a .NET socket
/// would have thrown, so that handlers (and the endpoints built on them) catch what they always did.
/// </summary>
internal static class SocketErrors
{
    public static SocketException FromErrno(int errno) => errno switch
    {
        104 => new SocketException((int)SocketError.ConnectionReset),   // ECONNRESET
        32 => new SocketException((int)SocketError.Shutdown),           // EPIPE: the client's side is closed
        110 => new SocketException((int)SocketError.TimedOut),          // ETIMEDOUT
        107 => new SocketException((int)SocketError.NotConnected),      // ENOTCONN
        103 => new SocketException((int)SocketError.ConnectionAborted), // ECONNABORTED
        12 or 105 => new SocketException((int)SocketError.NoBufferSpaceAvailable), // ENOMEM, ENOBUFS
        _ => new SocketException((int)SocketError.SocketError, Libc.ErrorText(errno)),
    };
}
