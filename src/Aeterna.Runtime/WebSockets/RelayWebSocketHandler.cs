using Aeterna.WebSockets;

namespace Aeterna;

/// <summary>
/// What every <see cref="RelayWebSocketHandler{TSession}"/> is, so that
/// <see cref="RelayWebSocketExtensions.AddRelayWebSockets{THandler}"/> takes the handler's type alone.
/// Derive from <see cref="RelayWebSocketHandler{TSession}"/>, not from this.
/// </summary>
public abstract class RelayWebSocketHandler
{
    private protected RelayWebSocketHandler() { }

    /// <summary>The handed-connection handler that speaks RFC 6455 for this one.</summary>
    internal abstract RelayConnectionHandler CreateEndpoint();

    /// <summary>The largest message a client may send, in bytes, whole or in fragments; a longer one closes the connection with 1009 (Message Too Big). 1 MiB unless overridden.</summary>
    public virtual int MaxMessageBytes => WebSocketEndpointDefaults.MaxMessageBytes;
}
