namespace Aeterna.Protocol;

/// <summary>What went wrong on a protocol stream; docs/protocol.md lists each with its meaning.</summary>
internal enum ProtocolError
{
    /// <summary>The peer closed the stream (in the middle of a frame, or where a frame was expected).</summary>
    Closed,
    BadMagic,
    WrongVersion,
    UnknownType,
    TooManyFds,
    TooLarge,
    BadChecksum,
    /// <summary>A payload that does not parse, or a frame that is not expected at this point.</summary>
    Malformed,
    Timeout,
}

/// <summary>A protocol stream carried something this side cannot accept; the stream is not usable afterwards.</summary>
internal sealed class ProtocolException(ProtocolError error, string message, Exception? inner = null) : Exception(message, inner)
{
    public ProtocolError Error { get; } = error;
}
