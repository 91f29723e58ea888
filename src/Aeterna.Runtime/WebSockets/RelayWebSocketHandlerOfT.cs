using Aeterna.WebSockets;

namespace Aeterna;

/// <summary>
/// Serves a WebSocket endpoint whose open connections cross every relay: at the hand-over each
/// one goes to the next generation between two messages, with the bytes read and not yet handled,
/// the fragments of a message not yet complete, and its <typeparamref name="TSession"/>. The
/// client sees no close frame and no reconnect; a message it sends during the hand-over is
/// answered by the next generation. Register it with
/// <see cref="RelayWebSocketExtensions.AddRelayWebSockets{THandler}"/>.
/// </summary>
/// <typeparam name="TSession">
/// The connection's own state: a <c>partial</c> class with <c>[RelayState]</c> members, written in
/// the relay wire format when the connection is handed over (a new connection starts with
/// <c>new TSession()</c>). Anything kept elsewhere about a connection starts afresh in the next generation.
/// </typeparam>
/// <remarks>
/// The runtime answers the opening handshake itself (no extension is negotiated: permessage-deflate
/// is refused, because its compression windows cannot cross a hand-over), answers pings, validates
/// text as UTF-8, and runs the closing handshake. One instance serves every connection of the
/// endpoint; the messages of one connection are handled one at a time, in order.
/// </remarks>
public abstract class RelayWebSocketHandler<TSession> : RelayWebSocketHandler where TSession : class, new()
{
    /// <summary>Creates the handler (once, through dependency injection).</summary>
    // The non-generic base is closed to other subclasses on purpose; this is the one way to derive.
#pragma warning disable RS0022
    protected RelayWebSocketHandler() { }
#pragma warning restore RS0022

    /// <summary>
    /// Handles one message of a client: reply with <see cref="RelayWebSocket.SendTextAsync"/> or
    /// <see cref="RelayWebSocket.SendBinaryAsync"/> and keep <paramref name="session"/> up to date.
    /// The connection is handed over only between two calls, so what this call sends and changes
    /// goes with it. An exception closes the connection with 1011 (Internal Error).
    /// </summary>
    public abstract ValueTask OnMessageAsync(RelayWebSocket socket, TSession session, RelayWebSocketMessage message);

    /// <summary>
    /// Called once for a new connection, after the handshake and before its first message (never
    /// again when it is handed over). <paramref name="requestTarget"/> is the path and query of the
    /// Upgrade request: keep in <paramref name="session"/> what you need of it later.
    /// </summary>
    public virtual ValueTask OnOpenAsync(RelayWebSocket socket, TSession session, string requestTarget) => default;

    /// <summary>
    /// Picks one of the subprotocols the client offered (<c>Sec-WebSocket-Protocol</c>), in its
    /// order of preference, or null for none. The choice crosses hand-overs with the connection.
    /// </summary>
    public virtual string? SelectSubprotocol(IReadOnlyList<string> offered) => null;

    internal override RelayConnectionHandler CreateEndpoint() => new WebSocketEndpoint<TSession>(this);
}
