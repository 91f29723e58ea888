namespace Aeterna.EventStreams;

/// <summary>Where a round of a stream left its connection.</summary>
internal enum StreamOutcome
{
    /// <summary>At a boundary for a pause: framing and session set, the runtime holds the connection.</summary>
    Paused,
    /// <summary>The exchange is over and the connection takes the client's next request.</summary>
    KeepAlive,
    /// <summary>The connection is ended (<see cref="RelayConnection.End"/> called) or must be closed.</summary>
    Ended,
}

/// <summary>The streams of one <see cref="RelayEventStreamHandler{TSession}"/>, as <see cref="HttpEndpoint"/> drives them.</summary>
internal abstract class EventStreamService
{
    public abstract int MaxRequestBodyBytes { get; }

    public abstract TimeSpan IdleTimeout { get; }

    /// <summary>Answers <paramref name="request"/> (already consumed from the input), streaming it until it ends or pauses.</summary>
    public abstract Task<StreamOutcome> StartAsync(RelayConnection connection, RelayHttpRequest request, bool keepAlive);

    /// <summary>Goes on with the stream whose framing and session the connection carries.</summary>
    public abstract Task<StreamOutcome> ResumeAsync(RelayConnection connection);

    /// <summary>Whether a stream's session as the previous generation left it can be read here (throws with why it cannot).</summary>
    public abstract bool IsValidSession(ReadOnlySpan<byte> session);

    /// <summary>Ends the stream the connection carries at its boundary: the handler's last word, then the end of the body.</summary>
    public abstract Task EndAsync(RelayConnection connection, string reason);
}
