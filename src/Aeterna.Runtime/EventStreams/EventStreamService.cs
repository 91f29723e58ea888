namespace Aeterna.EventStreams;

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
