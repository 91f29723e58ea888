using Aeterna.Addresses;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Aeterna.Interop;
using Aeterna.Tool.Logging;
using Aeterna.Tool.Relay;
using Aeterna.Tool.Sockets;

namespace Aeterna.Tool.Control;

/// <summary>
/// The control socket: a Unix stream socket, mode 0600 in a 0700 directory, whose peers must be
/// our own user or root (checked with SO_PEERCRED). `relay`, `status` and `stop` talk to it.
/// </summary>
internal sealed class ControlServer : IDisposable
{
    public const int MaxRequestBytes = 64 * 1024;

    private readonly Socket _listener;
    private readonly string _path;
    private readonly RelayCoordinator _relays;
    private readonly Func<StatusSnapshot> _status;
    private readonly Action _stop;
    private readonly EventLog _log;
    private readonly uint _uid = Libc.GetEffectiveUserId();

    private ControlServer(Socket listener, string path, RelayCoordinator relays, Func<StatusSnapshot> status, Action stop, EventLog log) =>
        (_listener, _path, _relays, _status, _stop, _log) = (listener, path, relays, status, stop, log);

    /// <summary>Binds <paramref name="path"/> and serves: relays and rollbacks go to <paramref name="relays"/>, `stop` calls <paramref name="stop"/>.</summary>
    public static ControlServer Start(string path, RelayCoordinator relays, Func<StatusSnapshot> status, Action stop, EventLog log)
    {
        ListenerSockets.RemoveStaleSocket(path);
        if (Path.Exists(path))
            throw new ControlSocketInUseException($"another supervisor is running for this config: its control socket {path} answers. Fix: stop it first (dotnet aeterna stop -c <config>), or set control.socket_path to run a second one");
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        // The directory is 0700 already; the umask closes the window before chmod as well.
        uint previous = Libc.Umask(0x7F) /* 0177 */;
        try
        {
            listener.Bind(new UnixDomainSocketEndPoint(path));
        }
        finally { Libc.Umask(previous); }
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        listener.Listen(16);
        var server = new ControlServer(listener, path, relays, status, stop, log);
        _ = server.AcceptLoopAsync();
        return server;
    }

    private async Task AcceptLoopAsync()
    {
        while (true)
        {
            Socket client;
            try { client = await _listener.AcceptAsync(); }
            catch (Exception e) when (e is ObjectDisposedException or SocketException) { return; }
            _ = HandleAsync(client);
        }
    }

    private async Task HandleAsync(Socket client)
    {
        using var stream = new NetworkStream(client, ownsSocket: true);
        var writeLock = new Lock();
        void Send(ControlResponse response)
        {
            byte[] line = [.. JsonSerializer.SerializeToUtf8Bytes(response, ControlJson.Default.ControlResponse), (byte)'\n'];
            lock (writeLock)
            {
                try { stream.Write(line); }
                catch (IOException) { } // the client went away; the relay carries on regardless
            }
        }

        try
        {
            uint peerUid = Libc.PeerUid(client);
            if (peerUid != _uid && peerUid != 0)
            {
                _log.Warn("control.denied", $"control socket: refused a client with uid {peerUid} (only uid {_uid} and root may control this supervisor)");
                Send(new ControlResponse(ControlResponse.Failed, Error: $"permission denied: uid {peerUid} may not control a supervisor of uid {_uid}"));
                return;
            }
            var request = await ReadRequestAsync(stream);
            switch (request?.Command)
            {
                case "status":
                    Send(new ControlResponse(ControlResponse.StatusType, Status: _status()));
                    break;
                case "relay":
                    var options = new RelayOptions(request.SoakMilliseconds is { } ms ? TimeSpan.FromMilliseconds(ms) : null);
                    var report = await _relays.RelayAsync("control socket", options,
                        p => Send(new ControlResponse(ControlResponse.ProgressType, Progress: p)));
                    Send(new ControlResponse(ControlResponse.ReportType, Report: report));
                    break;
                case "rollback":
                    var (done, refusal) = _relays.RequestRollback("dotnet aeterna rollback");
                    if (done is null)
                        Send(new ControlResponse(ControlResponse.Failed, Error: refusal));
                    else
                        Send(new ControlResponse(ControlResponse.ReportType, Report: await done));
                    break;
                case "stop":
                    Send(new ControlResponse(ControlResponse.Ok));
                    _stop();
                    break;
                default:
                    Send(new ControlResponse(ControlResponse.Failed, Error: $"unknown request '{request?.Command}': expected status, relay, rollback or stop"));
                    break;
            }
        }
        catch (Exception e) when (e is JsonException or InvalidDataException)
        {
            Send(new ControlResponse(ControlResponse.Failed, Error: $"malformed request: {e.Message}"));
        }
        catch (Exception e) when (e is IOException or SocketException) { }
    }

    private static async Task<ControlRequest?> ReadRequestAsync(Stream stream)
    {
        var buffer = new byte[MaxRequestBytes];
        int length = 0;
        while (length < buffer.Length)
        {
            int read = await stream.ReadAsync(buffer.AsMemory(length));
            if (read == 0) break;
            int newline = Array.IndexOf(buffer, (byte)'\n', length, read);
            length += read;
            if (newline >= 0) { length = newline; break; }
        }
        if (length >= buffer.Length)
            throw new InvalidDataException($"request longer than {MaxRequestBytes} bytes");
        return JsonSerializer.Deserialize(Encoding.UTF8.GetString(buffer, 0, length), ControlJson.Default.ControlRequest);
    }

    public void Dispose()
    {
        _listener.Dispose();
        try { File.Delete(_path); } catch (IOException) { }
    }
}

/// <summary>A live supervisor already owns the control socket.</summary>
internal sealed class ControlSocketInUseException(string message) : Exception(message);
