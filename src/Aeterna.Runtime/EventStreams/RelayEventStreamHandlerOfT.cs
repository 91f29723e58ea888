using Aeterna.EventStreams;

namespace Aeterna;

/// <summary>
/// Serves streamed HTTP/1.1 responses (server-sent events, or any chunked body) that cross every
/// relay: each stream is produced event by event from a <typeparamref name="TSession"/>, and at a
/// hand-over it goes to the next generation between two events, with the connection itself; the
/// next generation writes the rest of the same response on the same connection. The client reads
/// one well-formed stream with every event exactly once. Register it with
/// <see cref="RelayEventStreamExtensions.AddRelayEventStreams{THandler}"/>.
/// </summary>
/// <typeparam name="TSession">
/// Where a stream is: a <c>partial</c> class with <c>[RelayState]</c> members (which conversation,
/// how many tokens sent, …), written in the relay wire format when the stream is handed over. A
/// stream starts with <c>new TSession()</c>, filled by <see cref="OnStartAsync"/>.
/// </typeparam>
/// <remarks>
/// <para>The runtime reads the requests itself (strictly: a clear 4xx for bad input, a
/// <c>Content-Length</c> body, no chunked request bodies), writes the status line and headers,
/// one chunk per call of <see cref="OnNextEventAsync"/>, and the end of the body; then the
/// connection goes on with the client's next request (keep-alive) or closes. Responses written by
/// Kestrel cannot be handed over (Kestrel owns its sockets and what it has read ahead): this
/// endpoint is served on a listener of its own, which it may share with a
/// <see cref="RelayWebSocketHandler{TSession}"/> (an Upgrade request goes to that one).</para>
/// <para>One instance serves every stream of the endpoint, concurrently; the calls for one stream
/// come one at a time. A call that throws ends the connection without the end of the body, so
/// that the client sees the response is incomplete.</para>
/// </remarks>
public abstract class RelayEventStreamHandler<TSession> : RelayEventStreamHandler where TSession : class, new()
{
    /// <summary>Creates the handler (once, through dependency injection).</summary>
    // The non-generic base is closed to other subclasses on purpose; this is the one way to derive.
#pragma warning disable RS0022
    protected RelayEventStreamHandler() { }
#pragma warning restore RS0022

    /// <summary>
    /// Called once per request: answer it with <see cref="RelayStreamStart.Stream"/> and fill
    /// <paramref name="session"/> with what the stream needs, or with
    /// <see cref="RelayStreamStart.Refuse"/> or <see cref="RelayStreamStart.Respond"/> (the
    /// session is then dropped). The connection is not handed over during this call.
    /// </summary>
    public abstract ValueTask<RelayStreamStart> OnStartAsync(RelayHttpRequest request, TSession session);

    /// <summary>
    /// Writes the stream's next event to <paramref name="events"/> and updates
    /// <paramref name="session"/>; returns false when the stream is done (what this call wrote is
    /// its last event). Whatever the call wrote is sent as one chunk once it returns. The stream is
    /// handed over only between two calls.
    /// </summary>
    /// <param name="events">Where this call writes its event (or nothing, to send nothing this time).</param>
    /// <param name="session">Where the stream is; kept as it was after the last call that returned when a call is cancelled.</param>
    /// <param name="pause">
    /// Fires when the runtime needs the stream at a boundary (a hand-over, or this generation
    /// stopping). Pass it to every wait (a token delay, a model's next token): a call cancelled by it
    /// (throwing <see cref="OperationCanceledException"/>) is a boundary, nothing it wrote is sent and
    /// the session is taken as the previous call left it, so that the next generation makes the same
    /// event again. A relay then never waits for a delay.
    /// </param>
    public abstract ValueTask<bool> OnNextEventAsync(RelayEventWriter events, TSession session, CancellationToken pause);

    /// <summary>
    /// Called once when a stream ends in the generation that serves it: completed (after its last
    /// event was sent) or left by its client. Not called for a stream that is handed over, nor for
    /// one a generation ends because it stops or the next refused it (<see cref="OnCut"/>).
    /// </summary>
    public virtual ValueTask OnEndAsync(TSession session, RelayStreamEnd end) => default;

    /// <summary>
    /// Writes the last event of a stream this generation must end before it is done (it stops and
    /// no next generation took the stream, or the next refused it: <paramref name="reason"/> is the
    /// refusal's, or <c>stopping</c>); the runtime then ends the body properly and closes the
    /// connection. This generation may no longer own the app's state: change nothing here. The
    /// default writes the server-sent event <c>event: cut</c> with <c>data: </c> the reason;
    /// override it (to write nothing) for a stream that is not server-sent events.
    /// </summary>
    public virtual void OnCut(RelayEventWriter events, TSession session, string reason)
    {
        ArgumentNullException.ThrowIfNull(events);
        events.WriteEvent(reason, "cut");
    }

    internal override EventStreamService CreateService() => new EventStreamEndpoint<TSession>(this);
}
