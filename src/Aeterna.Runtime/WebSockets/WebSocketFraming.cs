using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Unicode;

namespace Aeterna.WebSockets;

/// <summary>The opcodes of RFC 6455 §5.2.</summary>
internal enum WebSocketOpcode : byte
{
    Continuation = 0,
    Text = 1,
    Binary = 2,
    Close = 8,
    Ping = 9,
    Pong = 10,
}

/// <summary>What one decoded frame amounts to.</summary>
internal enum WebSocketEventKind
{
    /// <summary>A data frame that is not the last of its message: kept in <see cref="WebSocketDecoder.Partial"/>.</summary>
    Fragment,
    /// <summary>A whole text or binary message.</summary>
    Message,
    Ping,
    Pong,
    /// <summary>The client's close frame (its code in <see cref="WebSocketEvent.CloseCode"/>, 1005 when it gave none).</summary>
    Close,
    /// <summary>The client broke the protocol: close with <see cref="WebSocketEvent.CloseCode"/> (1002, 1007 or 1009).</summary>
    Failed,
}

/// <summary>One decoded frame: a message, a control frame, or the reason the connection must close.</summary>
internal readonly record struct WebSocketEvent(WebSocketEventKind Kind, WebSocketOpcode Opcode = WebSocketOpcode.Continuation, ReadOnlyMemory<byte> Payload = default, ushort CloseCode = 0, string Reason = "")
{
    public static WebSocketEvent Fail(ushort code, string reason) => new(WebSocketEventKind.Failed, CloseCode: code, Reason: reason);
}

/// <summary>
/// The server's side of RFC 6455 framing: decodes the client's frames one whole frame at a time
/// and keeps the only state that spans frames, the fragments of a message not yet complete, in a
/// form that crosses a hand-over (docs/protocol.md, "Kinds": the <c>framing</c> bytes).
/// </summary>
/// <remarks>
/// Written here rather than taken from <c>System.Net.WebSockets</c>: its <c>ManagedWebSocket</c>
/// (still in .NET 10) reads the stream into a private receive buffer ahead of the frame it
/// returns and keeps the header of a half-read frame and the UTF-8 state of a half-read message
/// in private fields, with no API to stop at a message boundary and give back what it read past
/// it. A hand-over needs exactly that: every byte after the last frame handled, still masked, and
/// the fragments so far. This decoder consumes only whole frames and validates UTF-8 only when a
/// text message is complete, so nothing else needs to travel.
/// </remarks>
internal sealed class WebSocketDecoder
{
    /// <summary>The longest frame header a client sends: 2 + 8 (length) + 4 (mask).</summary>
    public const int MaxHeaderSize = 14;

    public const ushort NormalClosure = 1000;
    public const ushort ProtocolError = 1002;
    public const ushort NoStatus = 1005;
    public const ushort InvalidPayload = 1007;
    public const ushort MessageTooBig = 1009;
    public const ushort ServiceRestart = 1012;
    public const ushort TryAgainLater = 1013;

    private readonly int _maxMessageBytes;
    private readonly ArrayBufferWriter<byte> _partial = new();

    /// <param name="maxMessageBytes">The largest message accepted; a longer one closes with 1009.</param>
    /// <param name="partialOpcode">Text or binary when a message's first fragments were received before (none: continuation).</param>
    /// <param name="partial">Those fragments' payload, unmasked.</param>
    public WebSocketDecoder(int maxMessageBytes, WebSocketOpcode partialOpcode = WebSocketOpcode.Continuation, ReadOnlySpan<byte> partial = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxMessageBytes, 1);
        _maxMessageBytes = maxMessageBytes;
        PartialOpcode = partialOpcode;
        _partial.Write(partial);
    }

    /// <summary>The opcode of the message whose last fragment has not arrived (continuation: none).</summary>
    public WebSocketOpcode PartialOpcode { get; private set; }

    /// <summary>The payload of that message so far.</summary>
    public ReadOnlySpan<byte> Partial => _partial.WrittenSpan;

    /// <summary>
    /// Decodes the frame at the start of <paramref name="buffer"/> and moves <paramref name="buffer"/>
    /// past it. False when <paramref name="buffer"/> does not hold a whole frame yet (it is left as it
    /// was); a frame that breaks the protocol is a <see cref="WebSocketEventKind.Failed"/> event,
    /// reported as soon as its header shows it.
    /// </summary>
    public bool TryDecode(ref ReadOnlySequence<byte> buffer, out WebSocketEvent frame)
    {
        frame = default;
        Span<byte> header = stackalloc byte[MaxHeaderSize];
        int have = (int)Math.Min(buffer.Length, MaxHeaderSize);
        if (have < 2) return false;
        buffer.Slice(0, have).CopyTo(header);

        bool fin = (header[0] & 0x80) != 0;
        var opcode = (WebSocketOpcode)(header[0] & 0x0F);
        bool masked = (header[1] & 0x80) != 0;
        int length7 = header[1] & 0x7F;
        bool control = ((byte)opcode & 0x08) != 0;

        // Checks the first two bytes can decide, before waiting for the rest of the frame.
        if ((header[0] & 0x70) != 0)
        {
            frame = WebSocketEvent.Fail(ProtocolError, "a reserved bit is set and no extension was negotiated");
            return true;
        }
        if (opcode is not (WebSocketOpcode.Continuation or WebSocketOpcode.Text or WebSocketOpcode.Binary or WebSocketOpcode.Close or WebSocketOpcode.Ping or WebSocketOpcode.Pong))
        {
            frame = WebSocketEvent.Fail(ProtocolError, $"opcode {(byte)opcode} is reserved");
            return true;
        }
        if (!masked)
        {
            frame = WebSocketEvent.Fail(ProtocolError, "a client frame must be masked");
            return true;
        }
        if (control && (!fin || length7 > 125))
        {
            frame = WebSocketEvent.Fail(ProtocolError, "a control frame must be whole and at most 125 bytes");
            return true;
        }
        if (opcode == WebSocketOpcode.Continuation && PartialOpcode == WebSocketOpcode.Continuation)
        {
            frame = WebSocketEvent.Fail(ProtocolError, "a continuation frame with no message to continue");
            return true;
        }
        if (opcode is WebSocketOpcode.Text or WebSocketOpcode.Binary && PartialOpcode != WebSocketOpcode.Continuation)
        {
            frame = WebSocketEvent.Fail(ProtocolError, "a new message began before the last fragment of the previous one");
            return true;
        }

        int lengthBytes = length7 switch { 126 => 2, 127 => 8, _ => 0 };
        int headerSize = 2 + lengthBytes + 4;
        if (have < headerSize) return false;
        ulong length = lengthBytes switch
        {
            2 => BinaryPrimitives.ReadUInt16BigEndian(header[2..]),
            8 => BinaryPrimitives.ReadUInt64BigEndian(header[2..]),
            _ => (ulong)length7,
        };
        if (length > long.MaxValue)
        {
            frame = WebSocketEvent.Fail(ProtocolError, "the most significant bit of a 64-bit payload length must be 0");
            return true;
        }
        ulong soFar = control ? 0 : (ulong)_partial.WrittenCount;
        if (length + soFar > (ulong)_maxMessageBytes)
        {
            frame = WebSocketEvent.Fail(MessageTooBig, $"a message is at most {_maxMessageBytes} bytes");
            return true;
        }
        if ((ulong)(buffer.Length - headerSize) < length) return false;

        int size = (int)length;
        uint mask = BinaryPrimitives.ReadUInt32BigEndian(header[(2 + lengthBytes)..]);
        var payload = buffer.Slice(headerSize, size);
        buffer = buffer.Slice(headerSize + size);

        if (control)
        {
            var bytes = Unmask(payload, mask);
            frame = opcode switch
            {
                WebSocketOpcode.Ping => new WebSocketEvent(WebSocketEventKind.Ping, opcode, bytes),
                WebSocketOpcode.Pong => new WebSocketEvent(WebSocketEventKind.Pong, opcode, bytes),
                _ => DecodeClose(bytes),
            };
            return true;
        }

        if (fin && PartialOpcode == WebSocketOpcode.Continuation)
        {
            // A message in one frame, the common case: one copy, unmasking it.
            var bytes = Unmask(payload, mask);
            frame = Complete(opcode, bytes);
            return true;
        }

        var target = _partial.GetSpan(size)[..size];
        payload.CopyTo(target);
        ApplyMask(target, mask);
        _partial.Advance(size);
        if (opcode != WebSocketOpcode.Continuation) PartialOpcode = opcode;
        if (!fin)
        {
            frame = new WebSocketEvent(WebSocketEventKind.Fragment, PartialOpcode);
            return true;
        }
        var message = _partial.WrittenSpan.ToArray();
        var messageOpcode = PartialOpcode;
        _partial.Clear();
        PartialOpcode = WebSocketOpcode.Continuation;
        frame = Complete(messageOpcode, message);
        return true;
    }

    private static WebSocketEvent Complete(WebSocketOpcode opcode, byte[] payload) =>
        opcode == WebSocketOpcode.Text && !Utf8.IsValid(payload)
            ? WebSocketEvent.Fail(InvalidPayload, "a text message is not valid UTF-8")
            : new WebSocketEvent(WebSocketEventKind.Message, opcode, payload);

    private static WebSocketEvent DecodeClose(byte[] payload)
    {
        if (payload.Length == 0) return new WebSocketEvent(WebSocketEventKind.Close, WebSocketOpcode.Close, CloseCode: NoStatus);
        if (payload.Length == 1) return WebSocketEvent.Fail(ProtocolError, "a close frame's code is two bytes");
        ushort code = BinaryPrimitives.ReadUInt16BigEndian(payload);
        if (!IsValidCloseCode(code)) return WebSocketEvent.Fail(ProtocolError, $"close code {code} may not be sent");
        if (!Utf8.IsValid(payload.AsSpan(2))) return WebSocketEvent.Fail(InvalidPayload, "a close reason is not valid UTF-8");
        return new WebSocketEvent(WebSocketEventKind.Close, WebSocketOpcode.Close, CloseCode: code, Reason: Encoding.UTF8.GetString(payload.AsSpan(2)));
    }

    /// <summary>The codes a peer may put in a close frame (RFC 6455 §7.4, and the IANA registry's 1012-1014).</summary>
    private static bool IsValidCloseCode(ushort code) =>
        code is (>= 1000 and <= 1003) or (>= 1007 and <= 1014) or (>= 3000 and <= 4999);

    private static byte[] Unmask(in ReadOnlySequence<byte> payload, uint mask)
    {
        var bytes = payload.ToArray();
        ApplyMask(bytes, mask);
        return bytes;
    }

    /// <summary>XORs <paramref name="data"/> with the 4-byte <paramref name="mask"/>, starting at its first byte.</summary>
    public static void ApplyMask(Span<byte> data, uint mask)
    {
        Span<byte> key = stackalloc byte[8];
        BinaryPrimitives.WriteUInt32BigEndian(key, mask);
        BinaryPrimitives.WriteUInt32BigEndian(key[4..], mask);
        // Eight bytes at a time: the key repeats every four, so it lines up at every step.
        ulong wide = MemoryMarshal.Read<ulong>(key);
        int i = 0;
        for (; i + 8 <= data.Length; i += 8)
            MemoryMarshal.Write(data[i..], MemoryMarshal.Read<ulong>(data[i..]) ^ wide);
        for (; i < data.Length; i++) data[i] ^= key[i & 3];
    }

    /// <summary>A server frame (never masked, always whole) of <paramref name="payload"/>.</summary>
    public static byte[] Frame(WebSocketOpcode opcode, ReadOnlySpan<byte> payload)
    {
        int lengthBytes = payload.Length switch { <= 125 => 0, <= ushort.MaxValue => 2, _ => 8 };
        var frame = new byte[2 + lengthBytes + payload.Length];
        frame[0] = (byte)(0x80 | (byte)opcode);
        switch (lengthBytes)
        {
            case 0: frame[1] = (byte)payload.Length; break;
            case 2: frame[1] = 126; BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(2), (ushort)payload.Length); break;
            default: frame[1] = 127; BinaryPrimitives.WriteUInt64BigEndian(frame.AsSpan(2), (ulong)payload.Length); break;
        }
        payload.CopyTo(frame.AsSpan(2 + lengthBytes));
        return frame;
    }

    /// <summary>A server close frame; the reason is cut to fit the 125 bytes of a control frame.</summary>
    public static byte[] CloseFrame(ushort code, string reason)
    {
        Span<byte> payload = stackalloc byte[125];
        BinaryPrimitives.WriteUInt16BigEndian(payload, code);
        int n = 2;
        foreach (var rune in reason.EnumerateRunes())
        {
            if (n + rune.Utf8SequenceLength > payload.Length) break;
            n += rune.EncodeToUtf8(payload[n..]);
        }
        return Frame(WebSocketOpcode.Close, payload[..n]);
    }

    // The framing bytes of a websocket connection record (docs/protocol.md, "Kinds").
    private const byte StateVersion = 1;
    private const int StateHeaderSize = 8;

    /// <summary>The framing bytes: this decoder's partial message and the subprotocol agreed in the handshake.</summary>
    public byte[] WriteState(string? subprotocol)
    {
        int protocolBytes = subprotocol?.Length ?? 0;
        var state = new byte[StateHeaderSize + protocolBytes + _partial.WrittenCount];
        state[0] = StateVersion;
        state[1] = (byte)PartialOpcode;
        state[2] = (byte)protocolBytes;
        state[3] = 0;
        BinaryPrimitives.WriteUInt32LittleEndian(state.AsSpan(4), (uint)_partial.WrittenCount);
        if (subprotocol is not null) Encoding.ASCII.GetBytes(subprotocol, state.AsSpan(StateHeaderSize));
        _partial.WrittenSpan.CopyTo(state.AsSpan(StateHeaderSize + protocolBytes));
        return state;
    }

    /// <summary>
    /// Reads framing bytes written by <see cref="WriteState"/> (here or in another process): null
    /// and the decoder it describes, or why they are not valid for a decoder of
    /// <paramref name="maxMessageBytes"/>.
    /// </summary>
    public static string? TryReadState(ReadOnlySpan<byte> state, int maxMessageBytes, out WebSocketDecoder? decoder, out string? subprotocol)
    {
        decoder = null;
        subprotocol = null;
        if (state.Length < StateHeaderSize) return $"{state.Length} bytes of framing state, less than its {StateHeaderSize}-byte header";
        if (state[0] != StateVersion) return $"framing state version {state[0]}, this runtime reads version {StateVersion}";
        var opcode = (WebSocketOpcode)state[1];
        if (opcode is not (WebSocketOpcode.Continuation or WebSocketOpcode.Text or WebSocketOpcode.Binary)) return $"opcode {state[1]} cannot be that of a partial message";
        if (state[3] != 0) return "the reserved byte of the framing state is not 0";
        int protocolBytes = state[2];
        uint partialBytes = BinaryPrimitives.ReadUInt32LittleEndian(state[4..]);
        if ((ulong)StateHeaderSize + (ulong)protocolBytes + partialBytes != (ulong)state.Length)
            return $"the framing state's lengths ({protocolBytes} + {partialBytes}) do not add up to its {state.Length - StateHeaderSize} bytes";
        if (opcode == WebSocketOpcode.Continuation && partialBytes != 0) return "a partial payload with no partial message";
        if (partialBytes > (uint)maxMessageBytes) return $"a partial message of {partialBytes} bytes, over this endpoint's {maxMessageBytes}";
        var protocol = state.Slice(StateHeaderSize, protocolBytes);
        if (protocolBytes > 0)
        {
            if (!WebSocketHandshake.IsToken(protocol)) return "the subprotocol is not an HTTP token";
            subprotocol = Encoding.ASCII.GetString(protocol);
        }
        decoder = new WebSocketDecoder(maxMessageBytes, opcode, state[(StateHeaderSize + protocolBytes)..]);
        return null;
    }
}
