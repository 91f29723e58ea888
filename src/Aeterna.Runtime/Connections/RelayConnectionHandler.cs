using System.IO.Pipelines;

namespace Aeterna;

/// <summary>
/// Serves the connections of one handed-connection endpoint, for any protocol over TCP (register it
/// with <see cref="RelayConnectionExtensions.AddRelayConnections{THandler}"/>). At a relay its open
/// connections go to the next generation at a boundary of the protocol: the same socket, the bytes
/// read and not handled, and the connection's <see cref="RelayConnection.Session"/>; the client
/// notices nothing (docs/protocol.md, "Connections").
/// </summary>
/// <remarks>
/// One instance serves every connection of its endpoint, concurrently; it is created once, through
/// dependency injection. Per-connection state that must survive a relay lives in the session;
/// anything else (locals of <see cref="ServeAsync"/>) starts afresh whenever a connection is served
/// again, in this generation after a resume or in the next one.
/// </remarks>
public abstract class RelayConnectionHandler
{
    /// <summary>
    /// Serves <paramref name="connection"/>: reads requests from <see cref="RelayConnection.Input"/>
    /// (the bytes handed over come first), answers with <see cref="RelayConnection.SendAsync"/>.
    /// Pass <see cref="RelayConnection.PauseRequested"/> to every <c>Input.ReadAsync</c>: when it
    /// fires, the read returns a result with <see cref="System.IO.Pipelines.ReadResult.IsCanceled"/>
    /// set (a read after that one throws <see cref="OperationCanceledException"/>); finish the
    /// message in hand, send its whole reply, keep the session up to date, and return (or let the
    /// exception out) without consuming what you have not handled. Returning on the cancelled
    /// result is the cheap way: at a relay every connection pauses at once. Returning before the
    /// pause fired ends the connection: the runtime closes it.
    /// </summary>
    public abstract Task ServeAsync(RelayConnection connection);

    /// <summary>
    /// Whether this generation can serve a connection with <paramref name="session"/>, as the
    /// previous generation left it. A connection whose session is refused is not adopted: the
    /// previous generation, which still holds it, ends it (<see cref="EndAsync"/>, reason
    /// <c>session</c>). Must not touch live state. The default takes every session.
    /// </summary>
    public virtual bool IsValidSession(ReadOnlySpan<byte> session) => true;

    /// <summary>
    /// Ends a connection this generation holds at a boundary and will not serve again: the next
    /// generation refused it (<paramref name="reason"/> is its reason: <c>fd_limit</c>,
    /// <c>session</c>, <c>unknown_endpoint</c>, <c>kind_mismatch</c>, …, or <c>too_large</c> when
    /// its record did not fit in a frame) or this generation is stopping (<c>stopping</c>). Send
    /// the protocol's goodbye here; the runtime closes the socket afterwards. The default sends nothing.
    /// </summary>
    public virtual Task EndAsync(RelayConnection connection, string reason) => Task.CompletedTask;

    /// <summary>
    /// Whether <see cref="ServeAsync"/>, for a connection at a boundary (handed over from the
    /// previous generation, or served again here after a hand-over that did not happen), only waits
    /// for the client before doing anything: no write, no timer of its own. Then such a connection
    /// is served only once the client sends something or closes, and a relay of many quiet
    /// connections starts a handler only for those that speak. The default is false: every
    /// connection is served at once.
    /// </summary>
    public virtual bool WaitsForInput => false;

    /// <summary><see cref="WaitsForInput"/> for a connection of <paramref name="kind"/> left with <paramref name="framing"/>.</summary>
    internal virtual bool WaitsForInputAt(Protocol.ConnectionKind kind, ReadOnlySpan<byte> framing) => WaitsForInput;

    /// <summary>
    /// How many bytes the client may have sent that the handler has not consumed before the runtime
    /// stops reading the socket (the input pipe's pause threshold): a handler that consumes only
    /// whole messages needs room for its largest one. 64 KiB, as a default pipe.
    /// </summary>
    internal virtual long InputBufferBytes => 64 * 1024;

    private PipeOptions? _inputOptions;

    /// <summary>
    /// The input pipe's options for a round whose read-ahead fits under <see cref="InputBufferBytes"/>
    /// (nearly every round), made once: small segments, because most messages are small and every
    /// connection of the endpoint holds its own until its handler consumes them.
    /// </summary>
    internal PipeOptions InputOptions(long readAhead)
    {
        long pauseAt = Math.Max(InputBufferBytes, readAhead + 1);
        if (pauseAt == InputBufferBytes && _inputOptions is { } options) return options;
        options = new PipeOptions(pauseWriterThreshold: pauseAt, resumeWriterThreshold: pauseAt / 2, minimumSegmentSize: 512, useSynchronizationContext: false);
        if (pauseAt == InputBufferBytes) _inputOptions = options;
        return options;
    }

    /// <summary>The kind of connection this handler serves; its framing goes in each record.</summary>
    internal virtual Protocol.ConnectionKind Kind => Protocol.ConnectionKind.Raw;

    /// <summary>Whether this handler serves connections of <paramref name="kind"/> (an HTTP endpoint may serve two).</summary>
    internal virtual bool Takes(Protocol.ConnectionKind kind) => kind == Kind;

    /// <summary>Why <paramref name="framing"/> of a connection of <paramref name="kind"/> cannot be served here; null when it can.</summary>
    internal virtual string? FramingError(Protocol.ConnectionKind kind, ReadOnlySpan<byte> framing) => FramingError(framing);

    /// <summary><see cref="IsValidSession(ReadOnlySpan{byte})"/> for a connection of <paramref name="kind"/>.</summary>
    internal virtual bool IsValidSession(Protocol.ConnectionKind kind, ReadOnlySpan<byte> session) => IsValidSession(session);

    /// <summary>Why <paramref name="framing"/>, as the previous generation left it, cannot be served here; null when it can.</summary>
    internal virtual string? FramingError(ReadOnlySpan<byte> framing) =>
        framing.IsEmpty ? null : $"a raw connection carries no framing state; this one has {framing.Length} bytes";
}
