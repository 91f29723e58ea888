using System.Buffers.Binary;

namespace Aeterna.Protocol;

/// <summary>
/// The 16 bytes in front of every frame (docs/protocol.md, "Frames"):
/// <code>
/// 0  magic    "AETR"
/// 4  version  u8   framing version, 1
/// 5  type     u8   FrameType
/// 6  fds      u8   file descriptors attached (SCM_RIGHTS) to this frame, 0..64
/// 7  reserved u8   0
/// 8  length   u32  payload bytes, little-endian
/// 12 crc      u32  CRC-32C of bytes 0..11 and the payload, little-endian
/// </code>
/// </summary>
internal readonly record struct FrameHeader(FrameType Type, int FdCount, int Length, uint Crc, uint PrefixCrc)
{
    public const int Size = 16;
    public const byte Version = 1;
    public const int MaxFds = 64;
    private static ReadOnlySpan<byte> Magic => "AETR"u8;

    /// <summary>Writes the header for <paramref name="payload"/> (computing its CRC) into <paramref name="destination"/>.</summary>
    public static void Write(Span<byte> destination, FrameType type, int fdCount, ReadOnlySpan<byte> payload)
    {
        WriteFirst12(destination, type, fdCount, payload.Length);
        uint crc = Crc32C.Finish(Crc32C.Append(Crc32C.Append(Crc32C.Start, destination[..12]), payload));
        BinaryPrimitives.WriteUInt32LittleEndian(destination[12..], crc);
    }

    private static void WriteFirst12(Span<byte> destination, FrameType type, int fdCount, int length)
    {
        Magic.CopyTo(destination);
        destination[4] = Version;
        destination[5] = (byte)type;
        destination[6] = (byte)fdCount;
        destination[7] = 0;
        BinaryPrimitives.WriteUInt32LittleEndian(destination[8..], (uint)length);
    }

    /// <summary>
    /// Parses and checks a header before anything of the payload is read or allocated: magic,
    /// version, known type, fd count, and length against <paramref name="maxLength"/>.
    /// </summary>
    public static FrameHeader Parse(ReadOnlySpan<byte> bytes, int maxLength)
    {
        if (!bytes[..4].SequenceEqual(Magic))
            throw new ProtocolException(ProtocolError.BadMagic, $"the stream is not the Aeterna protocol: a frame starts with 0x{Convert.ToHexString(bytes[..4])}, not \"AETR\"");
        if (bytes[4] != Version)
            throw new ProtocolException(ProtocolError.WrongVersion, $"a frame has framing version {bytes[4]}; this side speaks version {Version}");
        var type = (FrameType)bytes[5];
        if (!Enum.IsDefined(type))
            throw new ProtocolException(ProtocolError.UnknownType, $"a frame has unknown type 0x{bytes[5]:x2}");
        int fds = bytes[6];
        if (fds > MaxFds)
            throw new ProtocolException(ProtocolError.TooManyFds, $"a {type} frame announces {fds} file descriptors; at most {MaxFds} may travel with one frame");
        if (bytes[7] != 0)
            throw new ProtocolException(ProtocolError.Malformed, $"a {type} frame has reserved byte 0x{bytes[7]:x2}; it must be 0");
        uint length = BinaryPrimitives.ReadUInt32LittleEndian(bytes[8..]);
        if (length > (uint)maxLength)
            throw new ProtocolException(ProtocolError.TooLarge, $"a {type} frame announces {length} bytes; the limit is {maxLength} (state_handoff.max_frame_size)");
        return new FrameHeader(type, fds, (int)length, BinaryPrimitives.ReadUInt32LittleEndian(bytes[12..]), Crc32C.Append(Crc32C.Start, bytes[..12]));
    }

    /// <summary>Checks the frame's CRC now that its <paramref name="payload"/> has arrived.</summary>
    public void Verify(ReadOnlySpan<byte> payload)
    {
        uint crc = Crc32C.Finish(Crc32C.Append(PrefixCrc, payload));
        if (crc != Crc)
            throw new ProtocolException(ProtocolError.BadChecksum, $"a {Type} frame of {Length} bytes fails its checksum (CRC-32C 0x{crc:x8}, the frame says 0x{Crc:x8}): the data was corrupted or cut");
    }
}
