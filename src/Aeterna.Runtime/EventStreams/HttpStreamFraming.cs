using System.Buffers.Binary;

namespace Aeterna.EventStreams;

/// <summary>
/// The framing bytes of an http_stream connection record (docs/protocol.md, "Kinds"): version 1,
/// flags (bit 0: keep_alive), two reserved zero bytes. Empty framing is a connection between two
/// requests (or before its first): no response has started, and its read-ahead is the next request.
/// </summary>
internal static class HttpStreamFraming
{
    public const int Size = 4;
    private const byte Version = 1;
    private const byte KeepAliveFlag = 1;

    public static byte[] Write(bool keepAlive) => [Version, keepAlive ? KeepAliveFlag : (byte)0, 0, 0];

    /// <summary>Null and the keep_alive flag of <paramref name="framing"/>, or why it is not a valid state.</summary>
    public static string? TryRead(ReadOnlySpan<byte> framing, out bool keepAlive)
    {
        keepAlive = false;
        if (framing.Length != Size) return $"{framing.Length} bytes of http_stream framing state, not {Size}";
        if (framing[0] != Version) return $"http_stream framing state version {framing[0]}, this runtime reads version {Version}";
        if ((framing[1] & ~KeepAliveFlag) != 0) return $"unknown http_stream flags 0x{framing[1]:x2}";
        if (BinaryPrimitives.ReadUInt16LittleEndian(framing[2..]) != 0) return "the reserved bytes of the http_stream framing state are not 0";
        keepAlive = (framing[1] & KeepAliveFlag) != 0;
        return null;
    }
}
