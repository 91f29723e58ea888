using System.Buffers;
using System.Net.WebSockets;
using System.Text;
using Aeterna.WebSockets;
using static Aeterna.Runtime.Tests.WebSockets.ClientFrames;

namespace Aeterna.Runtime.Tests.WebSockets;

/// <summary>The RFC 6455 codec of handed WebSocket endpoints: what it accepts, what closes the connection with which code, and its framing state.</summary>
public sealed class WebSocketFramingTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(125)]
    [InlineData(126)]
    [InlineData(65535)]
    [InlineData(65536)]
    [InlineData(200_000)]
    public void A_masked_message_of_any_length_encoding_is_decoded_whole(int length)
    {
        var payload = new byte[length];
        new Random(length).NextBytes(payload);
        var (events, left) = DecodeAll(new WebSocketDecoder(1 << 20), Frame(WebSocketOpcode.Binary, payload));
        var message = Assert.Single(events);
        Assert.Equal(WebSocketEventKind.Message, message.Kind);
        Assert.Equal(WebSocketOpcode.Binary, message.Opcode);
        Assert.Equal(payload, message.Payload.ToArray());
        Assert.Equal(0, left);
    }

    [Fact]
    public void A_frame_fed_byte_by_byte_is_decoded_only_once_whole_and_nothing_is_consumed_before()
    {
        var frame = Frame(WebSocketOpcode.Text, Encoding.UTF8.GetBytes(new string('x', 300)));
        var decoder = new WebSocketDecoder(1 << 20);
        for (int n = 0; n < frame.Length; n++)
        {
            var buffer = new ReadOnlySequence<byte>(frame, 0, n);
            Assert.False(decoder.TryDecode(ref buffer, out _));
            Assert.Equal(n, buffer.Length);
        }
        var whole = new ReadOnlySequence<byte>(frame);
        Assert.True(decoder.TryDecode(ref whole, out var e));
        Assert.Equal(new string('x', 300), Encoding.UTF8.GetString(e.Payload.Span));
    }

    [Fact]
    public void Fragments_with_control_frames_between_them_make_one_message_and_the_controls_come_as_they_arrive()
    {
        byte[] stream =
        [
            .. Text("hel", fin: false),
            .. Frame(WebSocketOpcode.Ping, "p1"u8),
            .. Frame(WebSocketOpcode.Continuation, "lo "u8, fin: false),
            .. Frame(WebSocketOpcode.Pong, ""u8),
            .. Frame(WebSocketOpcode.Continuation, "world"u8),
            .. Text("next"),
        ];
        var (events, left) = DecodeAll(new WebSocketDecoder(1 << 20), stream);
        Assert.Equal(0, left);
        Assert.Equal(
            [WebSocketEventKind.Fragment, WebSocketEventKind.Ping, WebSocketEventKind.Fragment, WebSocketEventKind.Pong, WebSocketEventKind.Message, WebSocketEventKind.Message],
            events.Select(e => e.Kind));
        Assert.Equal("p1", Encoding.UTF8.GetString(events[1].Payload.Span));
        Assert.Equal(WebSocketOpcode.Text, events[4].Opcode);
        Assert.Equal("hello world", Encoding.UTF8.GetString(events[4].Payload.Span));
        Assert.Equal("next", Encoding.UTF8.GetString(events[5].Payload.Span));
    }

    [Fact]
    public void A_message_half_received_crosses_in_the_framing_state_with_the_subprotocol_and_ends_in_the_new_decoder()
    {
        var before = new WebSocketDecoder(1 << 20);
        // A character of three UTF-8 bytes split between the fragments: valid once whole.
        var euro = Encoding.UTF8.GetBytes("€");
        DecodeAll(before, [.. Frame(WebSocketOpcode.Text, [(byte)'a', euro[0]], fin: false)]);
        Assert.Equal(WebSocketOpcode.Text, before.PartialOpcode);
        var state = before.WriteState("chat.v2");

        Assert.Null(WebSocketDecoder.TryReadState(state, 1 << 20, out var after, out var subprotocol));
        Assert.Equal("chat.v2", subprotocol);
        var (events, _) = DecodeAll(after!, Frame(WebSocketOpcode.Continuation, [euro[1], euro[2], (byte)'b']));
        var message = Assert.Single(events);
        Assert.Equal(WebSocketEventKind.Message, message.Kind);
        Assert.Equal("a€b", Encoding.UTF8.GetString(message.Payload.Span));
        Assert.Equal(8, after!.WriteState(null).Length); // nothing partial left: the header alone
    }

    public static TheoryData<string, byte[], ushort> BrokenStreams() => new()
    {
        { "unmasked", Frame(WebSocketOpcode.Text, "a"u8, masked: false), 1002 },
        { "reserved bit", Frame(WebSocketOpcode.Text, "a"u8, rsv: 1), 1002 },
        { "compressed bit (no deflate negotiated)", Frame(WebSocketOpcode.Text, "a"u8, rsv: 4), 1002 },
        { "opcode 3", Frame((WebSocketOpcode)3, "a"u8), 1002 },
        { "opcode 11", Frame((WebSocketOpcode)11, "a"u8), 1002 },
        { "fragmented ping", Frame(WebSocketOpcode.Ping, "a"u8, fin: false), 1002 },
        { "ping of 126 bytes", Frame(WebSocketOpcode.Ping, new byte[126]), 1002 },
        { "continuation of nothing", Frame(WebSocketOpcode.Continuation, "a"u8), 1002 },
        { "text inside a fragmented message", [.. Text("a", fin: false), .. Text("b")], 1002 },
        { "close of one byte", Frame(WebSocketOpcode.Close, [3]), 1002 },
        { "close code 1005", Close(1005), 1002 },
        { "close code 999", Close(999), 1002 },
        { "close code 2000", Close(2000), 1002 },
        { "64-bit length with its top bit set", [0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4], 1002 },
        { "text not UTF-8", Frame(WebSocketOpcode.Text, [0xC3, 0x28]), 1007 },
        { "text cut in the middle of a character", [.. Frame(WebSocketOpcode.Text, [0xE2, 0x82], fin: false), .. Frame(WebSocketOpcode.Continuation, "x"u8)], 1007 },
        { "close reason not UTF-8", Frame(WebSocketOpcode.Close, [0x03, 0xE8, 0xFF]), 1007 },
        { "message over the limit", Frame(WebSocketOpcode.Binary, new byte[1025]), 1009 },
        { "fragments over the limit", [.. Frame(WebSocketOpcode.Binary, new byte[600], fin: false), .. Frame(WebSocketOpcode.Continuation, new byte[600])], 1009 },
    };

    [Theory]
    [MemberData(nameof(BrokenStreams))]
    public void A_frame_that_breaks_the_protocol_fails_with_its_close_code(string what, byte[] stream, ushort code)
    {
        var (events, _) = DecodeAll(new WebSocketDecoder(1024), stream);
        var failed = events[^1];
        Assert.True(failed.Kind == WebSocketEventKind.Failed, $"{what}: decoded as {failed.Kind}");
        Assert.Equal(code, failed.CloseCode);
        Assert.DoesNotContain(events[..^1], e => e.Kind == WebSocketEventKind.Message);
    }

    [Fact]
    public void An_oversized_message_fails_on_its_header_before_its_payload_arrives()
    {
        var header = Frame(WebSocketOpcode.Binary, new byte[70_000])[..14];
        var (events, _) = DecodeAll(new WebSocketDecoder(65_536), header);
        Assert.Equal(1009, Assert.Single(events).CloseCode);
    }

    [Fact]
    public void A_text_message_split_inside_a_character_is_checked_only_when_whole()
    {
        var bytes = Encoding.UTF8.GetBytes("日本");
        byte[] stream = [.. Frame(WebSocketOpcode.Text, bytes.AsSpan(0, 1), fin: false), .. Frame(WebSocketOpcode.Continuation, bytes.AsSpan(1, 4), fin: false), .. Frame(WebSocketOpcode.Continuation, bytes.AsSpan(5))];
        var (events, _) = DecodeAll(new WebSocketDecoder(1024), stream);
        Assert.Equal("日本", Encoding.UTF8.GetString(events[^1].Payload.Span));
    }

    [Fact]
    public void A_close_frame_gives_its_code_and_reason_and_an_empty_one_gives_1005()
    {
        var (events, _) = DecodeAll(new WebSocketDecoder(1024), [.. Close(1000, "bye ✓"), .. Frame(WebSocketOpcode.Close, [])]);
        Assert.Equal((WebSocketEventKind.Close, (ushort)1000, "bye ✓"), (events[0].Kind, events[0].CloseCode, events[0].Reason));
        Assert.Equal((WebSocketEventKind.Close, (ushort)1005), (events[1].Kind, events[1].CloseCode));
    }

    [Fact]
    public async Task Server_frames_are_read_by_dotnets_own_client_implementation_and_its_frames_by_this_decoder()
    {
        // Ours to .NET's client side: a text message, a long binary one, a close with a long reason (cut to 123 bytes).
        var big = new byte[70_000];
        new Random(5).NextBytes(big);
        var toClient = new MemoryStream([.. WebSocketDecoder.Frame(WebSocketOpcode.Text, "hi"u8), .. WebSocketDecoder.Frame(WebSocketOpcode.Binary, big), .. WebSocketDecoder.CloseFrame(1012, new string('r', 200))]);
        using var client = WebSocket.CreateFromStream(new DuplexStream(toClient, new MemoryStream()), new WebSocketCreationOptions { IsServer = false });
        var buffer = new byte[100_000];
        var first = await client.ReceiveAsync(buffer, default);
        Assert.Equal((WebSocketMessageType.Text, true, "hi"), (first.MessageType, first.EndOfMessage, Encoding.UTF8.GetString(buffer, 0, first.Count)));
        int got = 0;
        ValueWebSocketReceiveResult part;
        do
        {
            part = await client.ReceiveAsync(buffer.AsMemory(got), default);
            got += part.Count;
        } while (!part.EndOfMessage);
        Assert.Equal(big, buffer[..got]);
        var close = await client.ReceiveAsync(buffer, default);
        Assert.Equal(WebSocketMessageType.Close, close.MessageType);
        Assert.Equal((WebSocketCloseStatus)1012, client.CloseStatus);
        Assert.Equal(new string('r', 123), client.CloseStatusDescription);

        // .NET's client to ours: masked, one message sent in three parts.
        var fromClient = new MemoryStream();
        using var sender = WebSocket.CreateFromStream(new DuplexStream(new MemoryStream(), fromClient), new WebSocketCreationOptions { IsServer = false });
        await sender.SendAsync("one "u8.ToArray(), WebSocketMessageType.Text, endOfMessage: false, default);
        await sender.SendAsync("two "u8.ToArray(), WebSocketMessageType.Text, endOfMessage: false, default);
        await sender.SendAsync("three"u8.ToArray(), WebSocketMessageType.Text, endOfMessage: true, default);
        var (events, left) = DecodeAll(new WebSocketDecoder(1024), fromClient.ToArray());
        Assert.Equal(0, left);
        Assert.Equal("one two three", Encoding.UTF8.GetString(events[^1].Payload.Span));
        Assert.Equal(3, events.Count);
    }

    [Theory]
    [InlineData(new byte[] { 1, 0, 0, 0, 0, 0, 0 }, "less than")]
    [InlineData(new byte[] { 2, 0, 0, 0, 0, 0, 0, 0 }, "version")]
    [InlineData(new byte[] { 1, 8, 0, 0, 0, 0, 0, 0 }, "opcode")]
    [InlineData(new byte[] { 1, 0, 0, 1, 0, 0, 0, 0 }, "reserved")]
    [InlineData(new byte[] { 1, 1, 0, 0, 2, 0, 0, 0, 9 }, "add up")]
    [InlineData(new byte[] { 1, 0, 0, 0, 1, 0, 0, 0, 9 }, "no partial message")]
    [InlineData(new byte[] { 1, 0, 2, 0, 0, 0, 0, 0, (byte)'a', (byte)' ' }, "token")]
    public void Framing_state_that_does_not_hold_together_is_refused_with_the_reason(byte[] state, string why)
    {
        var error = WebSocketDecoder.TryReadState(state, 1024, out var decoder, out _);
        Assert.NotNull(error);
        Assert.Contains(why, error);
        Assert.Null(decoder);
    }

    [Fact]
    public void Framing_state_with_a_partial_message_over_the_importers_limit_is_refused()
    {
        var decoder = new WebSocketDecoder(4096);
        DecodeAll(decoder, Frame(WebSocketOpcode.Binary, new byte[2000], fin: false));
        Assert.Contains("over this endpoint", WebSocketDecoder.TryReadState(decoder.WriteState(null), 1024, out _, out _));
    }

    /// <summary>A stream that reads from one and writes to another, for a WebSocket over memory.</summary>
    private sealed class DuplexStream(Stream input, Stream output) : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => input.Read(buffer, offset, count);
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => output.Write(buffer, offset, count);
    }
}
