namespace Aeterna;

/// <summary>How a stream ended in the generation that served it, for <see cref="RelayEventStreamHandler{TSession}.OnEndAsync"/>.</summary>
public enum RelayStreamEnd
{
    /// <summary><see cref="RelayEventStreamHandler{TSession}.OnNextEventAsync"/> said the stream is done; its last event and the end of the body were sent.</summary>
    Completed,
    /// <summary>The client closed the connection (or reset it) before the end: noticed between two events.</summary>
    ClientLeft,
}
