using System.Net.Sockets;

namespace Aeterna.Tool.Notify;

/// <summary>
/// The NOTIFY_SOCKET of one generation: a Unix datagram socket at a filesystem path.
/// </summary>
/// <remarks>
/// One socket per generation, rather than one shared socket with SO_PASSCRED, because a message
/// may come from any process of the generation (a worker, a script), and a per-generation socket
/// attributes it without walking the process tree. A filesystem path rather than an abstract
/// ('@') name, because every sd_notify client supports paths and not all support '@'.
/// </remarks>
internal sealed class NotifySocket : IDisposable
{
    private readonly Socket _socket;

    public string Path { get; }

    private NotifySocket(string path, Socket socket) => (Path, _socket) = (path, socket);

    public static NotifySocket Bind(string path)
    {
        if (File.Exists(path)) File.Delete(path);
        var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        try
        {
            socket.Bind(new UnixDomainSocketEndPoint(path));
            return new NotifySocket(path, socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Delivers each datagram to <paramref name="onMessage"/> until disposed.</summary>
    public async Task ReceiveAsync(Action<NotifyMessage> onMessage)
    {
        var buffer = new byte[NotifyMessage.MaxSize];
        while (true)
        {
            int received;
            try { received = await _socket.ReceiveAsync(buffer, SocketFlags.None); }
            catch (ObjectDisposedException) { return; }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.OperationAborted or SocketError.Interrupted) { return; }
            onMessage(NotifyMessage.Parse(buffer.AsSpan(0, received)));
        }
    }

    public void Dispose()
    {
        _socket.Dispose();
        try { File.Delete(Path); } catch (IOException) { }
    }
}
