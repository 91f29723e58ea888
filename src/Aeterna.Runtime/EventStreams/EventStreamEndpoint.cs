using System.IO.Pipelines;
using System.Net.Sockets;
using Aeterna.Protocol;

namespace Aeterna.EventStreams;

/// <summary>
/// The streams of a <see cref="RelayEventStreamHandler{TSession}"/> (kind http_stream,
/// docs/protocol.md "Kinds"): the answer to the start call, then one chunk per event; at a pause,
/// between two events, the framing (version, keep_alive) and the session as the last completed
/// call left it. A call cancelled by the pause leaves nothing behind, so a relay never waits for
/// a stream's delay.
/// </summary>
internal sealed class EventStreamEndpoint<TSession>(RelayEventStreamHandler<TSession> handler) : EventStreamService where TSession : class, new()
{
    public override int MaxRequestBodyBytes { get; } = handler.MaxRequestBodyBytes > 0 ? handler.MaxRequestBodyBytes
        : throw new InvalidOperationException($"{handler.GetType().Name}.MaxRequestBodyBytes must be positive");

    public override TimeSpan IdleTimeout { get; } = handler.IdleTimeout > TimeSpan.Zero ? handler.IdleTimeout
        : throw new InvalidOperationException($"{handler.GetType().Name}.IdleTimeout must be positive");

    public override bool IsValidSession(ReadOnlySpan<byte> session)
    {
        if (!session.IsEmpty) RelaySerializer.Deserialize<TSession>(session);
        return true;
    }

    public override async Task<StreamOutcome> StartAsync(RelayConnection connection, RelayHttpRequest request, bool keepAlive)
    {
        var session = new TSession();
        RelayStreamStart start;
        try
        {
            start = await handler.OnStartAsync(request, session).ConfigureAwait(false);
            ArgumentNullException.ThrowIfNull(start, $"{handler.GetType().Name}.OnStartAsync's answer");
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Nothing was sent yet: answer 500 and let the runtime log the failure and close.
            try { await connection.SendAsync(HttpResponses.Refusal(500, "the server failed to answer this request")).ConfigureAwait(false); }
            catch (SocketException) { } // the client is gone: the handler's error is the one to report
            throw;
        }
        if (!start.IsStream)
        {
            await connection.SendAsync(HttpResponses.Whole(start.Status, start.ContentType, start.Body.Span, keepAlive, start.Headers)).ConfigureAwait(false);
            return keepAlive ? StreamOutcome.KeepAlive : await HttpEndpoint.CloseAsync(connection).ConfigureAwait(false);
        }
        await connection.SendAsync(HttpResponses.StreamHead(start.Status, start.ContentType, keepAlive, start.Headers)).ConfigureAwait(false);
        return await StreamAsync(connection, session, keepAlive, RelaySerializer.Serialize(session)).ConfigureAwait(false);
    }

    public override Task<StreamOutcome> ResumeAsync(RelayConnection connection)
    {
        if (HttpStreamFraming.TryRead(connection.Framing.Span, out bool keepAlive) is { } error)
            throw new InvalidOperationException($"the connection's framing state cannot be read: {error}");
        var saved = connection.Session.ToArray();
        var session = saved.Length == 0 ? new TSession() : RelaySerializer.Deserialize<TSession>(saved);
        return StreamAsync(connection, session, keepAlive, saved);
    }

    private async Task<StreamOutcome> StreamAsync(RelayConnection connection, TSession session, bool keepAlive, byte[] saved)
    {
        var pause = connection.PauseRequested;
        var events = new RelayEventWriter();
        while (true)
        {
            if (pause.IsCancellationRequested) return Hold(connection, keepAlive, saved);
            if (ClientLeft(connection.Input)) return await LeftAsync(connection, session).ConfigureAwait(false);
            events.Reset();
            bool more;
            try
            {
                more = await handler.OnNextEventAsync(events, session, pause).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (pause.IsCancellationRequested)
            {
                // A boundary: what the call wrote and changed is dropped, the next round makes that event again.
                return Hold(connection, keepAlive, saved);
            }
            try
            {
                if (events.Length > 0 || !more) await connection.SendAsync(HttpResponses.Chunk(events.Written, last: !more)).ConfigureAwait(false);
            }
            catch (SocketException)
            {
                return await LeftAsync(connection, session).ConfigureAwait(false);
            }
            if (!more)
            {
                await handler.OnEndAsync(session, RelayStreamEnd.Completed).ConfigureAwait(false);
                return keepAlive ? StreamOutcome.KeepAlive : await HttpEndpoint.CloseAsync(connection).ConfigureAwait(false);
            }
            saved = RelaySerializer.Serialize(session);
        }
    }

    private async Task<StreamOutcome> LeftAsync(RelayConnection connection, TSession session)
    {
        await handler.OnEndAsync(session, RelayStreamEnd.ClientLeft).ConfigureAwait(false);
        connection.End();
        return StreamOutcome.Ended;
    }

    /// <summary>What the hand-over carries besides the socket and the read-ahead (the client's next request, if it sent one).</summary>
    private static StreamOutcome Hold(RelayConnection connection, bool keepAlive, byte[] session)
    {
        connection.Kind = ConnectionKind.HttpStream;
        connection.Framing = HttpStreamFraming.Write(keepAlive);
        connection.Session = session;
        return StreamOutcome.Paused;
    }

    /// <summary>
    /// Whether the client has closed its side (or reset the connection): looked at between two
    /// events, without consuming what it sent (a pipelined request is the next one's).
    /// </summary>
    private static bool ClientLeft(PipeReader input)
    {
        try
        {
            if (!input.TryRead(out var result)) return false;
            input.AdvanceTo(result.Buffer.Start);
            return result.IsCompleted;
        }
        catch (Exception e) when (e is SocketException or IOException)
        {
            return true;
        }
    }

    public override async Task EndAsync(RelayConnection connection, string reason)
    {
        var session = connection.Session.IsEmpty ? new TSession() : RelaySerializer.Deserialize<TSession>(connection.Session.Span);
        var events = new RelayEventWriter();
        Exception? failed = null;
        try
        {
            handler.OnCut(events, session, reason);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            failed = e;
            events.Reset(); // half an event would spoil the stream's end
        }
        // The end of the body whatever the handler did: the client must see a well-formed response.
        await connection.SendAsync(HttpResponses.Chunk(events.Written.ToArray(), last: true)).ConfigureAwait(false);
        if (failed is not null) throw new InvalidOperationException($"{handler.GetType().Name}.OnCut failed; the stream was ended without its last event", failed);
    }
}
