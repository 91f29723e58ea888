namespace Aeterna.Kestrel.LongLived;

/// <summary>
/// Follows the frames on one direction of a WebSocket (RFC 6455 §5.2), byte by byte as they are
/// written or read, however the calls split them: it knows when the connection stands between
/// messages, where a close frame cuts neither a frame nor a fragmented message, and between frames.
/// </summary>
internal struct WebSocketFrameCursor
{
    private byte _first;
    private int _headerRead;
    private int _headerLength;
    private int _lengthBytes;
    private ulong _payloadLength;
    private ulong _payloadLeft;
    private bool _inPayload;
    private bool _inFragmentedMessage;

    /// <summary>No frame is partly written and no fragmented message is open.</summary>
    public readonly bool AtMessageBoundary => _headerRead == 0 && !_inPayload && !_inFragmentedMessage;

    /// <summary>No frame is partly through (a fragmented message may be open).</summary>
    public readonly bool AtFrameBoundary => _headerRead == 0 && !_inPayload;

    /// <summary>In a frame's payload: how many of its bytes are still to come.</summary>
    public readonly ulong PayloadLeft => _inPayload ? _payloadLeft : 0;

    public void Advance(ReadOnlySpan<byte> written)
    {
        while (!written.IsEmpty)
        {
            if (_inPayload)
            {
                int n = (int)Math.Min((ulong)written.Length, _payloadLeft);
                _payloadLeft -= (ulong)n;
                written = written[n..];
                if (_payloadLeft == 0) EndFrame();
                continue;
            }
            byte b = written[0];
            written = written[1..];
            int at = _headerRead++;
            if (at == 0)
            {
                _first = b;
                continue;
            }
            if (at == 1)
            {
                int length7 = b & 0x7F;
                _lengthBytes = length7 switch { 126 => 2, 127 => 8, _ => 0 };
                _headerLength = 2 + _lengthBytes + ((b & 0x80) != 0 ? 4 : 0); // a masking key, should a server send one
                _payloadLength = _lengthBytes == 0 ? (ulong)length7 : 0;
            }
            else if (at < 2 + _lengthBytes)
            {
                _payloadLength = (_payloadLength << 8) | b;
            }
            if (_headerRead < _headerLength) continue;
            _headerRead = 0;
            if (_payloadLength == 0) EndFrame();
            else
            {
                _inPayload = true;
                _payloadLeft = _payloadLength;
            }
        }
    }

    private void EndFrame()
    {
        _inPayload = false;
        int opcode = _first & 0x0F;
        bool fin = (_first & 0x80) != 0;
        if (opcode < 8) _inFragmentedMessage = !fin; // data and continuation frames; control frames go between fragments
    }
}
