using System.Buffers.Binary;
using System.Text;
using Aeterna.Interop;
using Aeterna.Protocol;
using Aeterna.Runtime.Tests.Support;
using Microsoft.Win32.SafeHandles;

namespace Aeterna.Runtime.Tests.Protocol;

/// <summary>Frames across a real Unix socket pair: sizes, fds, and every way a stream can be wrong.</summary>
public sealed class FrameChannelTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [Fact]
    public void Crc32C_is_the_Castagnoli_one()
    {
        Assert.Equal(0xE3069283u, Crc32C.Compute("123456789"u8));
        Assert.Equal(0u, Crc32C.Compute([]));
        var data = new byte[1000];
        new Random(1).NextBytes(data);
        // Appending in pieces gives the same CRC as one pass.
        Assert.Equal(Crc32C.Compute(data), Crc32C.Finish(Crc32C.Append(Crc32C.Append(Crc32C.Start, data.AsSpan(0, 333)), data.AsSpan(333))));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(65535)]
    [InlineData(65536)]
    [InlineData(300_001)]
    [InlineData(1 << 20)]
    public async Task Payloads_of_every_size_arrive_intact(int size)
    {
        using var pair = new ChannelPair();
        var payload = new byte[size];
        new Random(size).NextBytes(payload);
        var sending = pair.Left.SendAsync(FrameType.StateChunk, payload);
        using var frame = await pair.Right.ReceiveAsync().WaitAsync(Timeout);
        await sending;
        Assert.Equal(FrameType.StateChunk, frame.Type);
        Assert.True(frame.Payload.Span.SequenceEqual(payload));
    }

    [Fact]
    public async Task Many_frames_in_a_row_keep_their_boundaries_and_their_fds()
    {
        using var pair = new ChannelPair();
        using var memory = new SafeFileHandle(Libc.CreateMemoryFile("test", 4096), ownsHandle: true);
        RandomAccess.Write(memory, "hello from the other side"u8, 0);
        var sending = Task.Run(async () =>
        {
            for (int i = 0; i < 50; i++)
                await pair.Left.SendAsync(FrameType.Status, Encoding.UTF8.GetBytes($"{{\"text\":\"{i}\"}}"), i % 10 == 0 ? [memory] : null);
        });
        for (int i = 0; i < 50; i++)
        {
            using var frame = await pair.Right.ReceiveAsync().WaitAsync(Timeout);
            Assert.Equal($"{i}", frame.Read(ProtocolJson.Default.StatusMessage).Text);
            Assert.Equal(i % 10 == 0 ? 1 : 0, frame.FdCount);
            if (frame.FdCount == 1)
            {
                // A new fd in this process for the same memory file.
                using var received = frame.TakeFd(0);
                Assert.NotEqual(memory.DangerousGetHandle(), received.DangerousGetHandle());
                var text = new byte[25];
                RandomAccess.Read(received, text, 0);
                Assert.Equal("hello from the other side", Encoding.UTF8.GetString(text));
            }
        }
        await sending;
    }

    [Fact]
    public async Task A_corrupted_payload_fails_its_checksum()
    {
        using var pair = new ChannelPair();
        var frame = Encode(FrameType.Status, "{\"text\":\"ok\"}"u8);
        frame[^3] ^= 0x20;
        pair.Left.Socket.Send(frame);
        var e = await Assert.ThrowsAsync<ProtocolException>(() => pair.Right.ReceiveAsync().WaitAsync(Timeout));
        Assert.Equal(ProtocolError.BadChecksum, e.Error);
    }

    [Fact]
    public async Task A_frame_of_another_version_is_refused()
    {
        using var pair = new ChannelPair();
        var frame = Encode(FrameType.Status, "{}"u8);
        frame[4] = 2;
        pair.Left.Socket.Send(frame);
        var e = await Assert.ThrowsAsync<ProtocolException>(() => pair.Right.ReceiveAsync().WaitAsync(Timeout));
        Assert.Equal(ProtocolError.WrongVersion, e.Error);
        Assert.Contains("version 2", e.Message);
    }

    [Fact]
    public async Task A_length_over_the_maximum_is_refused_before_anything_is_read()
    {
        using var pair = new ChannelPair(maxPayload: 4096);
        var header = new byte[FrameHeader.Size];
        FrameHeader.Write(header, FrameType.StateChunk, 0, []);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(8), 2_000_000_000);
        pair.Left.Socket.Send(header); // and no payload: the receiver must not wait for 2 GB
        var e = await Assert.ThrowsAsync<ProtocolException>(() => pair.Right.ReceiveAsync().WaitAsync(Timeout));
        Assert.Equal(ProtocolError.TooLarge, e.Error);
        Assert.Contains("2000000000", e.Message);
    }

    [Fact]
    public async Task A_stream_cut_in_the_middle_of_a_frame_is_reported_as_cut()
    {
        using var pair = new ChannelPair();
        var frame = Encode(FrameType.StateChunk, new byte[10_000]);
        pair.Left.Socket.Send(frame.AsSpan(0, 5000));
        pair.Left.Dispose();
        var e = await Assert.ThrowsAsync<ProtocolException>(() => pair.Right.ReceiveAsync().WaitAsync(Timeout));
        Assert.Equal(ProtocolError.Closed, e.Error);
        Assert.Contains("cut", e.Message);
    }

    [Fact]
    public async Task Something_that_is_not_the_protocol_is_refused_at_once()
    {
        using var pair = new ChannelPair();
        pair.Left.Socket.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"u8);
        var e = await Assert.ThrowsAsync<ProtocolException>(() => pair.Right.ReceiveAsync().WaitAsync(Timeout));
        Assert.Equal(ProtocolError.BadMagic, e.Error);
    }

    [Fact]
    public async Task A_frame_announcing_fds_that_never_came_is_refused()
    {
        using var pair = new ChannelPair();
        var frame = Encode(FrameType.StateRegions, [], fds: 3);
        pair.Left.Socket.Send(frame);
        var e = await Assert.ThrowsAsync<ProtocolException>(() => pair.Right.ReceiveAsync().WaitAsync(Timeout));
        Assert.Equal(ProtocolError.Malformed, e.Error);
    }

    [Fact]
    public async Task A_payload_that_is_not_the_expected_message_is_malformed()
    {
        using var pair = new ChannelPair();
        await pair.Left.SendAsync(FrameType.Hello, "{\"versions\": \"one\"}"u8.ToArray());
        using var frame = await pair.Right.ReceiveAsync().WaitAsync(Timeout);
        var e = Assert.Throws<ProtocolException>(() => frame.Read(ProtocolJson.Default.HelloMessage));
        Assert.Equal(ProtocolError.Malformed, e.Error);
    }

    internal static byte[] Encode(FrameType type, ReadOnlySpan<byte> payload, int fds = 0)
    {
        var frame = new byte[FrameHeader.Size + payload.Length];
        FrameHeader.Write(frame, type, fds, payload);
        payload.CopyTo(frame.AsSpan(FrameHeader.Size));
        return frame;
    }
}
