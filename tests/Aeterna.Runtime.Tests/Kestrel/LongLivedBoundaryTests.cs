using Aeterna.Kestrel.LongLived;

namespace Aeterna.Runtime.Tests.Kestrel;

/// <summary>Where a long-lived connection may be ended: between WebSocket messages, between events; however the writes split the bytes.</summary>
public sealed class LongLivedBoundaryTests
{
    [Fact]
    public void WebSocket_messages_are_followed_across_every_split_of_the_writes()
    {
        // A text frame, a 300-byte binary frame (16-bit length), a fragmented message with a ping between its fragments.
        byte[] text = [0x81, 0x02, (byte)'h', (byte)'i'];
        byte[] binary = [0x82, 126, 0x01, 0x2C, .. new byte[300]];
        byte[] first = [0x01, 0x01, (byte)'a'];
        byte[] ping = [0x89, 0x00];
        byte[] last = [0x80, 0x01, (byte)'b'];
        byte[] all = [.. text, .. binary, .. first, .. ping, .. last];
        var boundaries = new HashSet<int> { 0, text.Length, text.Length + binary.Length, all.Length };

        for (int split = 0; split <= all.Length; split++)
        {
            var cursor = new WebSocketFrameCursor();
            for (int at = 0; at < all.Length; at++)
            {
                Assert.True(cursor.AtMessageBoundary == boundaries.Contains(at), $"split {split}, byte {at}");
                // Bytes one by one up to the split, then the rest in one write.
                if (at < split) cursor.Advance(all.AsSpan(at, 1));
                else
                {
                    cursor.Advance(all.AsSpan(at));
                    break;
                }
            }
            Assert.True(cursor.AtMessageBoundary, $"split {split}: at the end");
        }
    }

    [Fact]
    public void A_64_bit_length_and_a_masking_key_are_read()
    {
        var cursor = new WebSocketFrameCursor();
        cursor.Advance([0x82, 0x80 | 127, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4]); // 65,536 bytes, masked
        Assert.False(cursor.AtMessageBoundary);
        cursor.Advance(new byte[65_535]);
        Assert.False(cursor.AtMessageBoundary);
        cursor.Advance(new byte[1]);
        Assert.True(cursor.AtMessageBoundary);
    }

    [Fact]
    public void After_the_runtimes_close_data_frames_are_dropped_and_control_frames_pass_however_the_reads_split_them()
    {
        // As a client sends them (masked): a text frame, a ping, a 300-byte binary frame (16-bit length), a close.
        byte[] text = [0x81, 0x81, 1, 2, 3, 4, (byte)'a'];
        byte[] ping = [0x89, 0x80, 1, 2, 3, 4];
        byte[] binary = [0x82, 0x80 | 126, 0x01, 0x2C, 1, 2, 3, 4, .. new byte[300]];
        byte[] close = [0x88, 0x82, 1, 2, 3, 4, 0x03, 0xE8];
        byte[] all = [.. text, .. ping, .. binary, .. close];
        for (int split = 0; split <= all.Length; split++)
        {
            var (kept, cursor) = Filter(new WebSocketFrameCursor(), all[..split], all[split..]);
            Assert.Equal([.. ping, .. close], kept);
            Assert.True(cursor.AtMessageBoundary, $"split {split}");
        }
    }

    [Fact]
    public void A_frame_partly_read_when_the_close_went_out_passes_whole()
    {
        byte[] binary = [0x82, 0x80 | 126, 0x01, 0x2C, 1, 2, 3, 4, .. new byte[300]];
        byte[] late = [0x81, 0x81, 1, 2, 3, 4, (byte)'b'];
        for (int readBefore = 1; readBefore < binary.Length; readBefore++)
        {
            var cursor = new WebSocketFrameCursor();
            cursor.Advance(binary.AsSpan(0, readBefore));
            var (kept, _) = Filter(cursor, [.. binary[readBefore..], .. late]);
            Assert.Equal(binary[readBefore..], kept);
        }
    }

    private static (byte[] Kept, WebSocketFrameCursor Cursor) Filter(WebSocketFrameCursor cursor, params byte[][] reads)
    {
        var late = new WebSocketLateFrames();
        late.Start(cursor);
        var kept = new List<byte>();
        foreach (var read in reads) late.Filter(read, ref cursor, kept);
        return ([.. kept], cursor);
    }

    [Theory]
    [InlineData("", true)]
    [InlineData("data: x\n\n", true)]
    [InlineData("data: x\r\n\r\n", true)]
    [InlineData("data: x\r\r", true)]
    [InlineData("data: x\n\r\n", true)]
    [InlineData(": keep-alive\n\n", true)]
    [InlineData("data: x", false)]
    [InlineData("data: x\n", false)]
    [InlineData("data: x\r\n", false)]
    [InlineData("data: x\n\ndata: y", false)]
    public void An_event_stream_stands_between_events_after_a_blank_line(string written, bool boundary)
    {
        for (int split = 0; split <= written.Length; split++)
        {
            var tail = new EventStreamTail();
            tail.Append(System.Text.Encoding.ASCII.GetBytes(written[..split]));
            tail.Append(System.Text.Encoding.ASCII.GetBytes(written[split..]));
            Assert.Equal(boundary, tail.AtEventBoundary);
        }
    }
}
