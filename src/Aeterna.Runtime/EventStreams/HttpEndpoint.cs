using System.Net.Sockets;
using Aeterna.Protocol;

namespace Aeterna.EventStreams;

/// <summary>
/// The runtime's HTTP/1.1 endpoint on a listener with an event-stream handler (and maybe a
/// WebSocket one): reads each request itself (<see cref="HttpRequestParser"/>), gives an Upgrade to
/// the WebSocket endpoint (kind websocket from then on) and anything else to the streams (kind
/// http_stream); after a stream or a whole answer, keep-alive takes the client's next request.
/// Between two requests a connection pauses as http_stream with empty framing and no session: its
/// read-ahead is whatever has come of the next request, which the next generation reads.
/// </summary>
internal sealed class HttpEndpoint(RelayConnectionHandler? webSockets, EventStreamService streams) : RelayConnectionHandler
{
    internal override ConnectionKind Kind => ConnectionKind.HttpStream;

    /// <summary>A whole request (head and body) must fit unconsumed, with room for what follows it.</summary>
    internal override long InputBufferBytes =>
        Math.Max(webSockets?.InputBufferBytes ?? 0, (long)HttpRequestParser.MaxHeadBytes + streams.MaxRequestBodyBytes + 64 * 1024);

    /// <summary>
    /// A WebSocket waits for its client; a stream writes, and a connection between two requests
    /// runs the idle timeout, so both are served at once.
    /// </summary>
    internal override bool WaitsForInputAt(ConnectionKind kind, ReadOnlySpan<byte> framing) =>
        kind == ConnectionKind.WebSocket && !framing.IsEmpty && webSockets!.WaitsForInputAt(kind, framing);

    internal override bool Takes(ConnectionKind kind) =>
        kind == ConnectionKind.HttpStream || (kind == ConnectionKind.WebSocket && webSockets is not null);

    internal override string? FramingError(ConnectionKind kind, ReadOnlySpan<byte> framing)
    {
        if (framing.IsEmpty) return null; // a request not answered yet: read here
        if (kind == ConnectionKind.WebSocket) return webSockets!.FramingError(kind, framing);
        return HttpStreamFraming.TryRead(framing, out _);
    }

    internal override bool IsValidSession(ConnectionKind kind, ReadOnlySpan<byte> session) =>
        kind == ConnectionKind.WebSocket ? webSockets!.IsValidSession(kind, session) : streams.IsValidSession(session);

    public override async Task ServeAsync(RelayConnection connection)
    {
        if (!connection.Framing.IsEmpty)
        {
            if (connection.Kind == ConnectionKind.WebSocket)
            {
                await webSockets!.ServeAsync(connection).ConfigureAwait(false);
                return;
            }
            if (await streams.ResumeAsync(connection).ConfigureAwait(false) != StreamOutcome.KeepAlive) return;
        }
        while (true)
        {
            // Between two requests: nothing but the read-ahead to hand over.
            connection.Kind = ConnectionKind.HttpStream;
            connection.Framing = default;
            connection.Session = default;
            var (next, request, keepAlive) = await ReadRequestAsync(connection).ConfigureAwait(false);
            switch (next)
            {
                case Next.Paused:
                    return;
                case Next.Ended:
                    connection.End();
                    return;
                case Next.WebSocket:
                    connection.Kind = ConnectionKind.WebSocket;
                    await webSockets!.ServeAsync(connection).ConfigureAwait(false);
                    return;
            }
            if (await streams.StartAsync(connection, request!, keepAlive).ConfigureAwait(false) != StreamOutcome.KeepAlive) return;
        }
    }

    private enum Next { Request, WebSocket, Paused, Ended }

    /// <summary>
    /// The next request, consumed from the input; or an Upgrade left unconsumed for the WebSocket
    /// endpoint, a pause with nothing consumed, or the end (the client left, the idle timeout, or a
    /// bad request answered here).
    /// </summary>
    private async Task<(Next, RelayHttpRequest?, bool KeepAlive)> ReadRequestAsync(RelayConnection connection)
    {
        var input = connection.Input;
        var pause = connection.PauseRequested;
        bool continued = false;
        using var idle = new CancellationTokenSource(streams.IdleTimeout);
        // The timeout reaches the read as a cancelled result, like the pause, not as an exception.
        using var wake = idle.Token.Register(static state => ((System.IO.Pipelines.PipeReader)state!).CancelPendingRead(), input);
        while (true)
        {
            var result = await input.ReadAsync(pause).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (result.IsCanceled)
            {
                input.AdvanceTo(buffer.Start);
                if (pause.IsCancellationRequested) return (Next.Paused, null, false);
                if (!idle.IsCancellationRequested) continue; // a stale wake-up from an earlier request's timer
                if (!buffer.IsEmpty) await RefuseAsync(connection, 408, $"the request did not arrive whole within {streams.IdleTimeout.TotalSeconds:0} s").ConfigureAwait(false);
                return (Next.Ended, null, false);
            }
            var status = HttpRequestParser.TryParse(buffer, streams.MaxRequestBodyBytes, out var parsed);
            if (status == HttpParseStatus.Refused)
            {
                input.AdvanceTo(buffer.End);
                await RefuseAsync(connection, parsed.Status, parsed.Error!).ConfigureAwait(false);
                return (Next.Ended, null, false);
            }
            if (parsed.HeadParsed && parsed.IsUpgrade && webSockets is not null)
            {
                input.AdvanceTo(buffer.Start); // the WebSocket endpoint reads the request again
                return (Next.WebSocket, null, false);
            }
            if (status == HttpParseStatus.Complete)
            {
                input.AdvanceTo(buffer.GetPosition(parsed.Consumed));
                return (Next.Request, parsed.Request, parsed.KeepAlive);
            }
            if (parsed.HeadParsed && parsed.ExpectsContinue && !continued)
            {
                continued = true;
                await connection.SendAsync(HttpResponses.Continue).ConfigureAwait(false);
            }
            input.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted) return (Next.Ended, null, false); // the client left, with or without half a request
        }
    }

    private static async Task RefuseAsync(RelayConnection connection, int status, string message)
    {
        try
        {
            await connection.SendAsync(HttpResponses.Refusal(status, message)).ConfigureAwait(false);
            await LingerAsync(connection).ConfigureAwait(false);
        }
        catch (SocketException) { } // gone already
    }

    /// <summary>After an answer with <c>Connection: close</c>: waits briefly for the client to close, then ends the connection.</summary>
    internal static async Task<StreamOutcome> CloseAsync(RelayConnection connection)
    {
        await LingerAsync(connection).ConfigureAwait(false);
        connection.End();
        return StreamOutcome.Ended;
    }

    /// <summary>
    /// Reads (and drops) what the client still sends until it closes, for at most a second or
    /// until a pause: closing with unread bytes would reset the connection under the answer in flight.
    /// </summary>
    private static async Task LingerAsync(RelayConnection connection)
    {
        var input = connection.Input;
        using var wait = new CancellationTokenSource(EventStreamDefaults.CloseWait);
        try
        {
            while (true)
            {
                var result = await input.ReadAsync(wait.Token).ConfigureAwait(false);
                input.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted || result.IsCanceled) return;
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or IOException) { }
    }

    /// <summary>
    /// Ends a connection this generation will not serve again: a stream at its boundary with the
    /// handler's last word and the end of the body; a WebSocket as its endpoint does; a request
    /// that has (partly) come and was not answered gets 503 with <c>Retry-After: 0</c>; an idle
    /// connection is only closed. Unread bytes are drained first, so that the close is not a reset.
    /// </summary>
    public override async Task EndAsync(RelayConnection connection, string reason)
    {
        if (connection.Kind == ConnectionKind.WebSocket && !connection.Framing.IsEmpty)
        {
            await webSockets!.EndAsync(connection, reason).ConfigureAwait(false);
            return;
        }
        if (!connection.Framing.IsEmpty) await streams.EndAsync(connection, reason).ConfigureAwait(false);
        else if (connection.Input.TryRead(out var pending) && !pending.Buffer.IsEmpty)
        {
            connection.Input.AdvanceTo(pending.Buffer.End);
            await connection.SendAsync(HttpResponses.Unavailable).ConfigureAwait(false);
        }
        Drain(connection.Socket);
    }

    /// <summary>Takes what the client has sent off the socket, without waiting (only what FIONREAD says is there).</summary>
    private static void Drain(Socket socket)
    {
        var sink = new byte[4096];
        try
        {
            for (int i = 0; i < 256 && socket.Available > 0; i++)
                if (socket.Receive(sink, SocketFlags.None) == 0) return;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException) { } // reset or gone: nothing to drain
    }
}
