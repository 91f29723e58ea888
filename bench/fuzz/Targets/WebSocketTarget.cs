using System.Buffers;
using System.Text;
using Aeterna.WebSockets;

namespace Aeterna.Fuzz.Targets;

/// <summary>
/// The WebSocket codec of handed endpoints: the first input byte (mod 64) is the length of the
/// framing state a connection record would carry (read with WebSocketDecoder.TryReadState; a fresh
/// decoder when refused), the rest the client's bytes, decoded frame by frame
/// (WebSocketDecoder.TryDecode) and also read as an opening handshake (WebSocketHandshake.TryRead).
/// Neither refuses by throwing: every exception is a finding.
/// </summary>
internal sealed class WebSocketTarget : FuzzTarget
{
    private const int MaxMessage = 1024;

    public override string Name => "websocket";

    public override string Decoder => "WebSocketDecoder.TryReadState + TryDecode, WebSocketHandshake.TryRead";

    public override void Decode(ReadOnlySpan<byte> input)
    {
        if (input.Length == 0) return;
        int stateLength = Math.Min(input[0] % 64, input.Length - 1);
        var state = input.Slice(1, stateLength);
        var stream = input[(1 + stateLength)..].ToArray();
        if (WebSocketDecoder.TryReadState(state, MaxMessage, out var decoder, out var subprotocol) is not null) decoder = new WebSocketDecoder(MaxMessage);
        var buffer = new ReadOnlySequence<byte>(stream);
        while (true)
        {
            long before = buffer.Length;
            if (!decoder!.TryDecode(ref buffer, out var frame))
            {
                if (buffer.Length != before) throw new FuzzFinding("TryDecode consumed part of a frame it did not decode");
                break;
            }
            if (frame.Kind == WebSocketEventKind.Failed)
            {
                if (frame.CloseCode is not (1002 or 1007 or 1009)) throw new FuzzFinding($"a failure with close code {frame.CloseCode}");
                break;
            }
            if (before - buffer.Length < 6) throw new FuzzFinding($"a frame of {before - buffer.Length} bytes (a masked one has at least 6)");
            if (frame.Payload.Length > MaxMessage || decoder.Partial.Length > MaxMessage) throw new FuzzFinding("a message over the limit was accepted");
            if (WebSocketDecoder.TryReadState(decoder.WriteState(subprotocol), MaxMessage, out _, out _) is { } error)
                throw new FuzzFinding($"the decoder's own state is refused: {error}");
        }
        var request = new ReadOnlySequence<byte>(stream);
        WebSocketHandshake.TryRead(ref request, out _, out _);
    }

    public override bool IsRefusal(Exception error) => false;

    public override IEnumerable<byte[]> Seeds()
    {
        var partial = new WebSocketDecoder(MaxMessage);
        var fragment = Masked(0x01, "hel"u8);
        var stream = new ReadOnlySequence<byte>(fragment);
        partial.TryDecode(ref stream, out _);
        byte[] midMessage = partial.WriteState("chat");
        byte[] none = new WebSocketDecoder(MaxMessage).WriteState(null);
        yield return [(byte)none.Length, .. none, .. Masked(0x81, "hello"u8), .. Masked(0x89, "ping"u8), .. Masked(0x88, [0x03, 0xE8])];
        yield return [(byte)midMessage.Length, .. midMessage, .. Masked(0x80, "lo"u8)];
        yield return [(byte)none.Length, .. none, .. Masked(0x02, new byte[200]), .. Masked(0x8A, []), .. Masked(0x80, new byte[10])];
        yield return [0, .. Encoding.ASCII.GetBytes("GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: chat\r\nSec-WebSocket-Version: 13\r\n\r\n")];
    }

    /// <summary>A client frame: <paramref name="first"/> (FIN and opcode), masked <paramref name="payload"/> of at most 125 bytes.</summary>
    private static byte[] Masked(byte first, ReadOnlySpan<byte> payload)
    {
        byte[] frame = [first, (byte)(0x80 | payload.Length), 0x11, 0x22, 0x33, 0x44, .. payload];
        WebSocketDecoder.ApplyMask(frame.AsSpan(6), 0x11223344);
        return frame;
    }
}
