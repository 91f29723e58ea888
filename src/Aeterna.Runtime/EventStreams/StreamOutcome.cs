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
