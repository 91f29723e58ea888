using Aeterna.EventStreams;

namespace Aeterna;

/// <summary>
/// What every <see cref="RelayEventStreamHandler{TSession}"/> is, so that
/// <see cref="RelayEventStreamExtensions.AddRelayEventStreams{THandler}"/> takes the handler's type
/// alone. Derive from <see cref="RelayEventStreamHandler{TSession}"/>, not from this.
/// </summary>
public abstract class RelayEventStreamHandler
{
    private protected RelayEventStreamHandler() { }

    /// <summary>The streams of this handler, as the runtime's HTTP endpoint serves them.</summary>
    internal abstract EventStreams.EventStreamService CreateService();

    /// <summary>The largest request body accepted, in bytes; a longer one is answered 413 and the connection closed. 1 MiB unless overridden.</summary>
    public virtual int MaxRequestBodyBytes => EventStreamDefaults.MaxRequestBodyBytes;

    /// <summary>How long a connection may wait for (the rest of) its next request before the runtime closes it (408 if part of one came). 2 minutes unless overridden.</summary>
    public virtual TimeSpan IdleTimeout => EventStreamDefaults.IdleTimeout;
}
