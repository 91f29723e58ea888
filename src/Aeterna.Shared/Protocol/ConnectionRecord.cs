using System.Buffers.Binary;
using System.Text;

namespace Aeterna.Protocol;

/// <summary>
/// One handed connection in a CONNECTIONS frame (docs/protocol.md, "On the transfer socket"); the
/// socket itself is the frame's fd of the same index. Little-endian, records back to back:
/// <code>
/// 0  id          u64  unique among the transfer's connections
/// 8  kind        u8   ConnectionKind (an unknown one refuses that connection only)
/// 9  name_len    u8   1..255 bytes of endpoint name
/// 10 reserved    u16  0
/// 12 read_ahead  u32  bytes received from the client and not handled
/// 16 framing     u32  bytes of the kind's framing state
/// 20 session     u32  bytes of the endpoint's session
/// 24 …           name (UTF-8), read_ahead, framing, session
/// </code>
/// </summary>
internal readonly record struct ConnectionRecord(ulong Id, byte Kind, string Endpoint, ReadOnlyMemory<byte> ReadAhead, ReadOnlyMemory<byte> Framing, ReadOnlyMemory<byte> Session)
{
    public const int HeaderSize = 24;
    public const int MaxEndpointBytes = 255;

    private static readonly UTF8Encoding s_strictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>The bytes this record takes in a frame; fails for an endpoint name that cannot be sent.</summary>
    public long EncodedLength => HeaderSize + (long)EndpointBytes(Endpoint) + ReadAhead.Length + Framing.Length + Session.Length;

    /// <summary>Writes the record at the start of <paramref name="destination"/>; returns the bytes written.</summary>
    public int Write(Span<byte> destination)
    {
        int nameBytes = EndpointBytes(Endpoint);
        BinaryPrimitives.WriteUInt64LittleEndian(destination, Id);
        destination[8] = Kind;
        destination[9] = (byte)nameBytes;
        destination[10] = 0;
        destination[11] = 0;
        BinaryPrimitives.WriteUInt32LittleEndian(destination[12..], (uint)ReadAhead.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[16..], (uint)Framing.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[20..], (uint)Session.Length);
        int at = HeaderSize + s_strictUtf8.GetBytes(Endpoint, destination[HeaderSize..]);
        ReadAhead.Span.CopyTo(destination[at..]);
        at += ReadAhead.Length;
        Framing.Span.CopyTo(destination[at..]);
        at += Framing.Length;
        Session.Span.CopyTo(destination[at..]);
        return at + Session.Length;
    }

    private static int EndpointBytes(string endpoint)
    {
        int bytes = s_strictUtf8.GetByteCount(endpoint);
        if (bytes is < 1 or > MaxEndpointBytes)
            throw new ArgumentException($"an endpoint name must be 1 to {MaxEndpointBytes} bytes of UTF-8; '{endpoint}' is {bytes}", nameof(endpoint));
        return bytes;
    }

    /// <summary>
    /// The records of one CONNECTIONS frame that came with <paramref name="fdCount"/> fds, each
    /// checked before it is used: at least one, one per fd, filling the payload exactly, no length
    /// running past it, names of 1..255 bytes of valid UTF-8, reserved bytes 0. The byte ranges
    /// point into <paramref name="payload"/>; nothing larger than the payload is allocated.
    /// </summary>
    public static ConnectionRecord[] ParseFrame(ReadOnlyMemory<byte> payload, int fdCount)
    {
        if (fdCount < 1)
            throw Malformed("a Connections frame carries no file descriptor; it must carry one per connection");
        var records = new ConnectionRecord[fdCount];
        var span = payload.Span;
        int at = 0;
        for (int i = 0; i < fdCount; i++)
        {
            if (span.Length - at < HeaderSize)
                throw Malformed($"a Connections frame with {fdCount} file descriptors holds {i} complete records; record {i + 1} needs {HeaderSize} header bytes, {span.Length - at} are left");
            var header = span.Slice(at, HeaderSize);
            ulong id = BinaryPrimitives.ReadUInt64LittleEndian(header);
            byte kind = header[8];
            int nameLength = header[9];
            if (header[10] != 0 || header[11] != 0)
                throw Malformed($"connection {id}'s record has reserved bytes 0x{header[10]:x2}{header[11]:x2}; they must be 0");
            if (nameLength == 0)
                throw Malformed($"connection {id}'s record has an empty endpoint name");
            long readAhead = BinaryPrimitives.ReadUInt32LittleEndian(header[12..]);
            long framing = BinaryPrimitives.ReadUInt32LittleEndian(header[16..]);
            long session = BinaryPrimitives.ReadUInt32LittleEndian(header[20..]);
            long length = HeaderSize + nameLength + readAhead + framing + session;
            if (length > span.Length - at)
                throw Malformed($"connection {id}'s record needs {length} bytes ({nameLength} name, {readAhead} read ahead, {framing} framing, {session} session); {span.Length - at} are left in its frame");
            string endpoint;
            try { endpoint = s_strictUtf8.GetString(span.Slice(at + HeaderSize, nameLength)); }
            catch (DecoderFallbackException) { throw Malformed($"connection {id}'s endpoint name is not valid UTF-8"); }
            int body = at + HeaderSize + nameLength;
            records[i] = new ConnectionRecord(id, kind, endpoint,
                payload.Slice(body, (int)readAhead),
                payload.Slice(body + (int)readAhead, (int)framing),
                payload.Slice(body + (int)(readAhead + framing), (int)session));
            at += (int)length;
        }
        if (at != span.Length)
            throw Malformed($"a Connections frame with {fdCount} file descriptors has {span.Length - at} bytes after its {fdCount} records");
        return records;
    }

    private static ProtocolException Malformed(string message) => new(ProtocolError.Malformed, message);
}
