using System.Net.Sockets;
using Aeterna.Protocol;

namespace Aeterna.Fuzz.Targets;

/// <summary>
/// FrameChannel receiving a byte stream on a real Unix socket pair: headers, payloads cut or
/// whole, CRCs, fd counts with no fds, and each frame's payload through its message decoder.
/// </summary>
internal sealed class FrameStreamTarget : FuzzTarget
{
    // Small, so that the fuzzer reaches "too large" as well as whole frames.
    private const int MaxPayload = 1024;
    private const int MaxFrames = 64;

    public override string Name => "frame-stream";

    public override string Decoder => "FrameChannel.ReceiveAsync + payloads";

    // The channel's 64 KiB receive buffer and the socket's own objects, whatever the input.
    public override long AllocationConstant => 512 * 1024;

    public override int MaxLength => 8192;

    public override void Decode(ReadOnlySpan<byte> input)
    {
        var (a, b) = FrameChannel.CreatePair();
        using var sender = new Socket(new SafeSocketHandle(a.DangerousGetHandle(), ownsHandle: true));
        a.SetHandleAsInvalid();
        using var receiver = FrameChannel.FromHandle(b, MaxPayload);
        sender.Send(input);
        sender.Shutdown(SocketShutdown.Send);
        // Ends with the channel's refusal: at the latest "closed" at the end of the input.
        for (int i = 0; i < MaxFrames; i++)
        {
            using var frame = receiver.ReceiveAsync().GetAwaiter().GetResult();
            try
            {
                if (MessageDecoders.For(frame.Type) is { } message) message.Decode(frame.Payload.Span);
                if (frame.FdCount > 0) frame.TakeFd(0).Dispose();
            }
            catch (ProtocolException e) when (e.Error == ProtocolError.Malformed)
            {
                // A bad payload in a whole frame: the stream itself is still in step.
            }
        }
    }

    public override bool IsRefusal(Exception error) => error is ProtocolException;

    public override IEnumerable<byte[]> Seeds()
    {
        // The session as a generation sees it, then a whole pipe transfer.
        var stream = new List<byte>();
        foreach (var message in MessageDecoders.All) Append(stream, message.Type, message.Valid);
        var sessionAndTransfer = stream.ToArray();
        yield return sessionAndTransfer;
        stream.Clear();
        Append(stream, FrameType.StateBegin, MessageDecoders.For(FrameType.StateBegin)!.Valid);
        Append(stream, FrameType.StateChunk, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        Append(stream, FrameType.StateEnd, MessageDecoders.For(FrameType.StateEnd)!.Valid);
        yield return stream.ToArray();
        foreach (var message in MessageDecoders.All)
        {
            stream.Clear();
            Append(stream, message.Type, message.Valid);
            yield return stream.ToArray();
        }
    }

    private static void Append(List<byte> stream, FrameType type, byte[] payload)
    {
        var header = new byte[FrameHeader.Size];
        FrameHeader.Write(header, type, 0, payload);
        stream.AddRange(header);
        stream.AddRange(payload);
    }
}
