using System.Net.Sockets;
using Aeterna.Addresses;
using Aeterna.Interop;
using Aeterna.Protocol;
using Aeterna.Tool.Logging;
using Aeterna.Tool.Supervision;

namespace Aeterna.Tool.Sessions;

/// <summary>
/// AETERNA_SOCKET: the Unix socket (mode 0600) where generations open their session with the
/// supervisor. A generation proves who it is with the AETERNA_TOKEN it was started with; a peer
/// of another uid, an unknown token, a second session for one generation, or no common protocol
/// version is answered with REJECT and closed.
/// </summary>
internal sealed class SessionServer : IDisposable
{
    /// <summary>A HELLO must arrive this soon after connecting.</summary>
    private static readonly TimeSpan HelloTimeout = TimeSpan.FromSeconds(10);

    private const int MaxHelloBytes = 256 * 1024; // the schema manifest travels in HELLO

    private readonly Socket _listener;
    private readonly Func<string, Generation?> _findGeneration;
    private readonly Action<GenerationSession, Frame> _onCheckpoint;
    private readonly EventLog _log;
    private readonly uint _uid = Libc.GetEffectiveUserId();

    private SessionServer(string path, Socket listener, Func<string, Generation?> findGeneration, Action<GenerationSession, Frame> onCheckpoint, EventLog log)
    {
        Path = path;
        _listener = listener;
        _findGeneration = findGeneration;
        _onCheckpoint = onCheckpoint;
        _log = log;
    }

    public string Path { get; }

    public static SessionServer Start(string path, Func<string, Generation?> findGeneration, Action<GenerationSession, Frame> onCheckpoint, EventLog log)
    {
        ListenerSockets.RemoveStaleSocket(path);
        if (System.IO.Path.Exists(path))
            throw new IOException($"the Aeterna protocol socket {path} is in use by another process. Fix: stop it, or set state_handoff.socket_path to another path");
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        uint previous = Libc.Umask(0x7F) /* 0177: the socket is created 0600 */;
        try { listener.Bind(new UnixDomainSocketEndPoint(path)); }
        catch
        {
            listener.Dispose();
            throw;
        }
        finally { Libc.Umask(previous); }
        listener.Listen(64);
        var server = new SessionServer(path, listener, findGeneration, onCheckpoint, log);
        _ = server.AcceptLoopAsync();
        return server;
    }

    private async Task AcceptLoopAsync()
    {
        while (true)
        {
            Socket client;
            try { client = await _listener.AcceptAsync().ConfigureAwait(false); }
            catch (Exception e) when (e is ObjectDisposedException or SocketException) { return; }
            _ = OpenAsync(client);
        }
    }

    private async Task OpenAsync(Socket client)
    {
        var channel = new FrameChannel(client, MaxHelloBytes);
        try
        {
            uint uid = Libc.PeerUid(client);
            if (uid != _uid && uid != 0)
            {
                await RejectAsync(channel, "permission_denied", $"uid {uid} may not open a session with a supervisor of uid {_uid}").ConfigureAwait(false);
                return;
            }
            HelloMessage hello;
            using (var timeout = new CancellationTokenSource(HelloTimeout))
            using (var frame = await channel.ReceiveAsync(FrameType.Hello, timeout.Token).ConfigureAwait(false))
                hello = frame.Read(ProtocolJson.Default.HelloMessage);

            if (hello.Versions is not [int min, int max] || min > 1 || max < 1)
            {
                await RejectAsync(channel, "version", $"this supervisor speaks protocol version 1; the client speaks {string.Join('-', hello.Versions ?? [])}. Fix: use a runtime and a supervisor of matching versions").ConfigureAwait(false);
                return;
            }
            if (_findGeneration(hello.Token ?? "") is not { } generation)
            {
                await RejectAsync(channel, "unknown_token", "AETERNA_TOKEN does not belong to a generation of this supervisor (a process started some other way, or a generation that has exited)").ConfigureAwait(false);
                return;
            }
            var welcome = Welcome.For(generation, hello);
            var session = new GenerationSession(channel, hello, welcome, generation, _onCheckpoint);
            if (!generation.AttachSession(session))
            {
                await RejectAsync(channel, "duplicate", $"generation {generation.Number} already has a session").ConfigureAwait(false);
                return;
            }
            channel.MaxPayload = FrameChannel.DefaultMaxPayload;
            // Once attached, the session runs (and ends) on its own: a failed WELCOME ends it at once.
            try { await channel.SendAsync(FrameType.Welcome, welcome, ProtocolJson.Default.WelcomeMessage).ConfigureAwait(false); }
            catch (ProtocolException) { }
            _log.Info("session.open", $"generation {generation.Number} (pid {hello.Pid}) opened its session: {hello.Runtime ?? "unknown runtime"}, {(hello.Stateful ? $"state: {string.Join(", ", hello.StateTypes ?? [])}" : "stateless")}",
                ("generation", generation.Number), ("stateful", hello.Stateful));
            await session.RunAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is ProtocolException or OperationCanceledException or SocketException or IOException)
        {
            _log.Warn("session.refused", $"a session could not be opened: {(e is OperationCanceledException ? $"no HELLO within {HelloTimeout.TotalSeconds:0} s" : e.Message)}");
            channel.Dispose();
        }
    }

    private static async Task RejectAsync(FrameChannel channel, string code, string message)
    {
        try { await channel.SendAsync(FrameType.Reject, new RejectMessage(code, message), ProtocolJson.Default.RejectMessage).ConfigureAwait(false); }
        catch (ProtocolException) { }
        channel.Dispose();
    }

    public void Dispose()
    {
        _listener.Dispose();
        try { File.Delete(Path); } catch (IOException) { }
    }
}
