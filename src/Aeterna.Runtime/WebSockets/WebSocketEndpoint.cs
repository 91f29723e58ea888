using System.Buffers;
using System.Net.Sockets;
using Aeterna.Protocol;

namespace Aeterna.WebSockets;

/// <summary>
/// A <see cref="RelayWebSocketHandler{TSession}"/> as a handed-connection endpoint of kind
/// websocket (docs/protocol.md, "Kinds"): answers the handshake, decodes frames, gives each whole
/// message to the handler, and at a pause leaves the socket between two messages with the bytes
/// after the last whole frame as read-ahead, the partial message and subprotocol as framing, and
/// the session in the relay wire format. A connection paused before its handshake was answered has
/// empty framing: whoever serves it next reads the Upgrade request from its read-ahead.
/// </summary>
internal sealed class WebSocketEndpoint<TSession>(RelayWebSocketHandler<TSession> handler) : RelayConnectionHandler where TSession : class, new()
{
    private readonly int _maxMessageBytes = handler.MaxMessageBytes > 0 ? handler.MaxMessageBytes
        : throw new InvalidOperationException($"{handler.GetType().Name}.MaxMessageBytes must be positive");

    internal override ConnectionKind Kind => ConnectionKind.WebSocket;

    /// <summary>Before the handshake and between two messages nothing is written but in answer to the client.</summary>
    public override bool WaitsForInput => true;

    /// <summary>Frames are consumed only whole, so the largest one must fit unconsumed (with room for what follows it).</summary>
    internal override long InputBufferBytes => (long)_maxMessageBytes + WebSocketDecoder.MaxHeaderSize + 64 * 1024;

    internal override string? FramingError(ReadOnlySpan<byte> framing) =>
        framing.IsEmpty ? null : WebSocketDecoder.TryReadState(framing, _maxMessageBytes, out _, out _);

    /// <summary>Throws with what is wrong (the runtime reports it as the refusal's detail).</summary>
    public override bool IsValidSession(ReadOnlySpan<byte> session)
    {
        if (!session.IsEmpty) RelaySerializer.Deserialize<TSession>(session);
        return true;
    }

    public override async Task ServeAsync(RelayConnection connection)
    {
        var input = connection.Input;
        var pause = connection.PauseRequested;
        WebSocketDecoder? decoder = null;
        string? subprotocol = null;
        TSession? session = null;
        RelayWebSocket? socket = null;
        CancellationTokenSource? closeWait = null;
        try
        {
            if (connection.Framing.IsEmpty)
            {
                // A pause here leaves the request where it was: the next round, here or there, reads it again.
                var request = await ReadRequestAsync(connection).ConfigureAwait(false);
                if (request is null) return;
                subprotocol = handler.SelectSubprotocol(request.Subprotocols);
                if (subprotocol is not null && (!request.Subprotocols.Contains(subprotocol) || !WebSocketHandshake.IsToken(subprotocol)))
                    throw new InvalidOperationException($"{handler.GetType().Name}.SelectSubprotocol chose '{subprotocol}', which the client did not offer");
                decoder = new WebSocketDecoder(_maxMessageBytes);
                session = new TSession();
                await connection.SendAsync(WebSocketHandshake.Accept(request, subprotocol)).ConfigureAwait(false);
                socket = new RelayWebSocket(connection, subprotocol);
                await handler.OnOpenAsync(socket, session, request.Target).ConfigureAwait(false);
            }
            else
            {
                if (WebSocketDecoder.TryReadState(connection.Framing.Span, _maxMessageBytes, out var restored, out subprotocol) is { } error)
                    throw new InvalidOperationException($"the connection's framing state cannot be read: {error}");
                decoder = restored!;
                session = connection.Session.IsEmpty ? new TSession() : RelaySerializer.Deserialize<TSession>(connection.Session.Span);
                socket = new RelayWebSocket(connection, subprotocol);
            }

            while (true)
            {
                // A close this side started waits for the client's answer only so long (as an ending does).
                if (socket.IsClosing && closeWait is null)
                {
                    closeWait = new CancellationTokenSource(WebSocketEndpointDefaults.CloseWait);
                    closeWait.Token.Register(static state => ((System.IO.Pipelines.PipeReader)state!).CancelPendingRead(), input);
                }
                var result = await input.ReadAsync(pause).ConfigureAwait(false);
                var buffer = result.Buffer;
                if (result.IsCanceled && !pause.IsCancellationRequested && closeWait is { IsCancellationRequested: true })
                {
                    input.AdvanceTo(buffer.Start, buffer.End);
                    connection.End(); // the client never answered the close frame
                    return;
                }
                bool ended = false;
                while (!ended && !pause.IsCancellationRequested && decoder.TryDecode(ref buffer, out var frame))
                    ended = await HandleAsync(socket, session, frame).ConfigureAwait(false);
                input.AdvanceTo(buffer.Start, buffer.End);
                if (ended || result.IsCompleted || (pause.IsCancellationRequested && socket.IsClosing))
                {
                    // Closed by either side, or gone without a close frame; one in its closing
                    // handshake is not handed over either.
                    connection.End();
                    return;
                }
                if (pause.IsCancellationRequested)
                {
                    Hold(connection, decoder, subprotocol, session);
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (pause.IsCancellationRequested)
        {
            if (socket is null || decoder is null || session is null) throw; // before the handshake was answered: nothing to keep but the read-ahead
            if (socket.IsClosing)
            {
                connection.End();
                return;
            }
            Hold(connection, decoder, subprotocol, session);
            throw;
        }
        catch (Exception e) when (socket is not null && e is not OperationCanceledException and not SocketException)
        {
            // The handler failed: tell the client why it is cut, then let the runtime log and close.
            try { await socket.SendCloseAsync(1011, "internal error").ConfigureAwait(false); }
            catch (Exception) { } // the client may be gone already: the original error is the one to report
            throw;
        }
        finally
        {
            closeWait?.Dispose();
        }
    }

    /// <summary>One frame; true when the connection ends with it.</summary>
    private async ValueTask<bool> HandleAsync(RelayWebSocket socket, TSession session, WebSocketEvent frame)
    {
        switch (frame.Kind)
        {
            case WebSocketEventKind.Message:
                if (!socket.IsClosing)
                    await handler.OnMessageAsync(socket, session, new RelayWebSocketMessage(frame.Opcode == WebSocketOpcode.Text, frame.Payload)).ConfigureAwait(false);
                return false;
            case WebSocketEventKind.Ping:
                if (!socket.IsClosing)
                    await socket.SendFrameAsync(WebSocketDecoder.Frame(WebSocketOpcode.Pong, frame.Payload.Span)).ConfigureAwait(false);
                return false;
            case WebSocketEventKind.Close:
                // The echo of the client's code ends the closing handshake; after ours, its answer does.
                await socket.SendCloseAsync(frame.CloseCode, "").ConfigureAwait(false);
                return true;
            case WebSocketEventKind.Failed:
                await socket.SendCloseAsync(frame.CloseCode, frame.Reason).ConfigureAwait(false);
                return true;
            default:
                return false; // a fragment (kept by the decoder) or a pong
        }
    }

    /// <summary>What the hand-over carries besides the socket and the read-ahead.</summary>
    private static void Hold(RelayConnection connection, WebSocketDecoder decoder, string? subprotocol, TSession session)
    {
        connection.Framing = decoder.WriteState(subprotocol);
        connection.Session = RelaySerializer.Serialize(session);
    }

    /// <summary>The Upgrade request, consumed; null when the connection ended instead (refused, or the client left).</summary>
    private static async Task<WebSocketRequest?> ReadRequestAsync(RelayConnection connection)
    {
        var input = connection.Input;
        while (true)
        {
            var result = await input.ReadAsync(connection.PauseRequested).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (WebSocketHandshake.TryRead(ref buffer, out var request, out var refusal))
            {
                if (refusal is not null)
                {
                    input.AdvanceTo(result.Buffer.End);
                    await connection.SendAsync(refusal).ConfigureAwait(false);
                    connection.End();
                    return null;
                }
                input.AdvanceTo(buffer.Start);
                return request;
            }
            input.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted)
            {
                connection.End();
                return null;
            }
        }
    }

    /// <summary>
    /// Ends a connection this generation will not serve again: 1013 (Try Again Later) when the next
    /// generation had no file descriptor for it, else 1012 (Service Restart), both of which tell a
    /// client to reconnect; a connection whose handshake was not answered gets a 503 instead. Waits
    /// briefly for the client's close frame, so that closing the socket does not reset it under
    /// bytes the client has in flight.
    /// </summary>
    public override async Task EndAsync(RelayConnection connection, string reason)
    {
        if (connection.Framing.IsEmpty)
        {
            await connection.SendAsync(WebSocketHandshake.Unavailable).ConfigureAwait(false);
            return;
        }
        ushort code = reason == "fd_limit" ? WebSocketDecoder.TryAgainLater : WebSocketDecoder.ServiceRestart;
        await connection.SendAsync(WebSocketDecoder.CloseFrame(code, reason)).ConfigureAwait(false);
        if (WebSocketDecoder.TryReadState(connection.Framing.Span, _maxMessageBytes, out var decoder, out _) is not null) return;
        await AwaitCloseAsync(connection, decoder!).ConfigureAwait(false);
    }

    private static async Task AwaitCloseAsync(RelayConnection connection, WebSocketDecoder decoder)
    {
        using var wait = new CancellationTokenSource(WebSocketEndpointDefaults.CloseWait);
        var received = new ArrayBufferWriter<byte>();
        // The read-ahead first: the client sent it before what is in the socket.
        var readAhead = await connection.Input.ReadAsync(CancellationToken.None).ConfigureAwait(false);
        foreach (var segment in readAhead.Buffer) received.Write(segment.Span);
        connection.Input.AdvanceTo(readAhead.Buffer.End);
        var chunk = new byte[4096];
        try
        {
            while (true)
            {
                var pending = new ReadOnlySequence<byte>(received.WrittenMemory);
                while (decoder.TryDecode(ref pending, out var frame))
                    if (frame.Kind is WebSocketEventKind.Close or WebSocketEventKind.Failed) return;
                var rest = pending.ToArray();
                received.Clear();
                received.Write(rest);
                int n = await connection.Socket.ReceiveAsync(chunk, SocketFlags.None, wait.Token).ConfigureAwait(false);
                if (n == 0) return;
                received.Write(chunk.AsSpan(0, n));
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException) { } // no answer in time, or reset: close anyway
    }
}
