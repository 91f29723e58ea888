using System.Buffers;
using System.Buffers.Binary;
using Aeterna.WebSockets;

namespace Aeterna.Runtime.Tests.WebSockets;

/// <summary>Frames as a client sends them (masked), built byte by byte so that tests can also build broken ones.</summary>
internal static class ClientFrames
{
    public static byte[] Frame(WebSocketOpcode opcode, ReadOnlySpan<byte> payload, bool fin = true, bool masked = true, uint mask = 0x37FA213D, byte rsv = 0, int? lengthField = null)
    {
        int lengthBytes = payload.Length switch { <= 125 => 0, <= ushort.MaxValue => 2, _ => 8 };
        var frame = new byte[2 + lengthBytes + (masked ? 4 : 0) + payload.Length];
        frame[0] = (byte)((fin ? 0x80 : 0) | (rsv << 4) | (byte)opcode);
        frame[1] = (byte)((masked ? 0x80 : 0) | (lengthField ?? lengthBytes switch { 0 => payload.Length, 2 => 126, _ => 127 }));
        if (lengthBytes == 2) BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(2), (ushort)payload.Length);
        if (lengthBytes == 8) BinaryPrimitives.WriteUInt64BigEndian(frame.AsSpan(2), (ulong)payload.Length);
        int at = 2 + lengthBytes;
        if (masked)
        {
            BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(at), mask);
            at += 4;
        }
        payload.CopyTo(frame.AsSpan(at));
        if (masked) WebSocketDecoder.ApplyMask(frame.AsSpan(at), mask);
        return frame;
    }

    public static byte[] Text(string text, bool fin = true) => Frame(WebSocketOpcode.Text, System.Text.Encoding.UTF8.GetBytes(text), fin);

    public static byte[] Close(ushort code, string reason = "")
    {
        var payload = new byte[2 + System.Text.Encoding.UTF8.GetByteCount(reason)];
        BinaryPrimitives.WriteUInt16BigEndian(payload, code);
        System.Text.Encoding.UTF8.GetBytes(reason, payload.AsSpan(2));
        return Frame(WebSocketOpcode.Close, payload);
    }

    /// <summary>Every frame the decoder gets out of <paramref name="bytes"/>, and how many bytes it left undecoded.</summary>
    public static (List<WebSocketEvent> Events, long Left) DecodeAll(WebSocketDecoder decoder, byte[] bytes)
    {
        var buffer = new ReadOnlySequence<byte>(bytes);
        var events = new List<WebSocketEvent>();
        while (decoder.TryDecode(ref buffer, out var e))
        {
            events.Add(e);
            if (e.Kind == WebSocketEventKind.Failed) break;
        }
        return (events, buffer.Length);
    }
}
