namespace Aeterna.Kestrel.LongLived;

/// <summary>
/// What the client sends after the runtime's own close frame, as the app reads it: data frames
/// are dropped, control frames (the client's close, a ping) pass. RFC 6455 §5.5.1: an endpoint
/// that sent a close sends no more data, so a message read now could be taken in (a turn of a
/// conversation recorded) but never answered; the client, told 1012, sends it again to the
/// generation it reconnects to. A frame already partly read when the close went out passes whole.
/// </summary>
internal sealed class WebSocketLateFrames
{
    private const int MaxHeader = 14; // 2 + a 64-bit length + a masking key
    private readonly byte[] _header = new byte[MaxHeader];
    private int _headerHeld;
    private bool _dropping;
    private bool _passCurrent;
    private bool _filtering;

    /// <summary>From now on data frames are dropped; <paramref name="cursor"/> says where the reads stand.</summary>
    public void Start(in WebSocketFrameCursor cursor)
    {
        _filtering = true;
        _passCurrent = !cursor.AtFrameBoundary;
    }

    public bool Filtering => _filtering;

    /// <summary>
    /// Filters <paramref name="read"/> (bytes just read, in order) into <paramref name="kept"/>,
    /// advancing <paramref name="cursor"/> over every byte read. A frame's header is held back
    /// until it is complete, so it may come out in a later call.
    /// </summary>
    public void Filter(ReadOnlySpan<byte> read, ref WebSocketFrameCursor cursor, List<byte> kept)
    {
        while (!read.IsEmpty)
        {
            if (_passCurrent || (cursor.PayloadLeft > 0 && !_dropping))
            {
                // Pass the rest of the current frame (its payload, or what is left of a header the app already has).
                int n = cursor.PayloadLeft > 0 ? (int)Math.Min((ulong)read.Length, cursor.PayloadLeft) : 1;
                Keep(read[..n], kept);
                cursor.Advance(read[..n]);
                read = read[n..];
                if (cursor.AtFrameBoundary) _passCurrent = false;
                continue;
            }
            if (cursor.PayloadLeft > 0)
            {
                int n = (int)Math.Min((ulong)read.Length, cursor.PayloadLeft);
                cursor.Advance(read[..n]);
                read = read[n..];
                if (cursor.AtFrameBoundary) _dropping = false;
                continue;
            }
            // A header, byte by byte: decide once it is complete.
            _header[_headerHeld++] = read[0];
            cursor.Advance(read[..1]);
            read = read[1..];
            if (!cursor.AtFrameBoundary && cursor.PayloadLeft == 0) continue; // more header to come
            bool data = (_header[0] & 0x0F) < 8;
            if (!data) Keep(_header.AsSpan(0, _headerHeld), kept);
            _dropping = data && cursor.PayloadLeft > 0;
            _headerHeld = 0;
        }
    }

    private static void Keep(ReadOnlySpan<byte> bytes, List<byte> kept)
    {
        foreach (byte b in bytes) kept.Add(b);
    }
}
