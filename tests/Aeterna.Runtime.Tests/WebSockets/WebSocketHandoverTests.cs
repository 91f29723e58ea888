using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using Aeterna.Connections;
using Aeterna.Interop;
using Aeterna.Protocol;
using Aeterna.WebSockets;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Win32.SafeHandles;
using static Aeterna.Runtime.Tests.WebSockets.ClientFrames;

namespace Aeterna.Runtime.Tests.WebSockets;

/// <summary>
/// A live WebSocket connection of a <see cref="RelayWebSocketHandler{TSession}"/> endpoint handed
/// between two generations' connection sets in this process (the socket duplicated as SCM_RIGHTS
/// would), with .NET's own ClientWebSocket and with a client that writes frames byte by byte:
/// a message half sent, a frame half sent and a ping sent during the hand-over are all met by
/// the next generation, with the session; the client never sees a close.
/// </summary>
public sealed class WebSocketHandoverTests : IAsyncDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly List<HandedConnections> _generations = [];

    public WebSocketHandoverTests() => _listener.Start();

    [Fact]
    public async Task A_client_websocket_crosses_to_the_next_generation_and_back_with_a_message_half_sent_and_its_session()
    {
        var first = Generation(new ChatSocket(1));
        using var client = new ClientWebSocket();
        client.Options.AddSubProtocol("chat.v1");
        client.Options.KeepAliveInterval = TimeSpan.Zero;
        await ConnectAsync(first, client, "/rooms/7");
        Assert.Equal("chat.v1", client.SubProtocol);
        Assert.Equal("1 1 /rooms/7 a", await AskAsync(client, "a"));

        // The first half of a message before the hand-over, the second after: one message, answered by 2.
        await client.SendAsync("b1 "u8.ToArray(), WebSocketMessageType.Text, endOfMessage: false, default);
        var second = Generation(new ChatSocket(2));
        await HandOverAsync(first, second, during: () => client.SendAsync("b2"u8.ToArray(), WebSocketMessageType.Text, endOfMessage: true, default));
        Assert.Equal("2 2 /rooms/7 b1 b2", await ReceiveTextAsync(client));
        Assert.Equal("2 3 /rooms/7 c", await AskAsync(client, "c"));
        // Larger than the input pipe's default threshold: it must still arrive whole.
        var binary = new byte[300_000];
        new Random(3).NextBytes(binary);
        await client.SendAsync(binary, WebSocketMessageType.Binary, true, default);
        Assert.Equal(binary, await ReceiveBinaryAsync(client));

        // And back, as a rollback hands it.
        var again = Generation(new ChatSocket(1));
        await HandOverAsync(second, again);
        Assert.Equal("1 5 /rooms/7 d", await AskAsync(client, "d"));
        Assert.Equal(WebSocketState.Open, client.State);
        Assert.Equal(0, first.Count + second.Count);
    }

    [Fact]
    public async Task A_frame_half_sent_and_a_ping_sent_during_the_hand_over_are_read_by_the_next_generation_from_the_read_ahead()
    {
        var first = Generation(new ChatSocket(1));
        using var client = await RawClient.ConnectAsync(this, first);
        var x = Text("x");
        var y = Text("y");
        await client.SendAsync([.. x, .. y[..3]]);
        Assert.Equal("1 1 / x", await client.ReadTextAsync());

        var second = Generation(new ChatSocket(2));
        await HandOverAsync(first, second, during: () => client.SendAsync([.. y[3..], .. Frame(WebSocketOpcode.Ping, "are you there"u8)]));
        Assert.Equal("2 2 / y", await client.ReadTextAsync());
        var pong = await client.ReadFrameAsync();
        Assert.Equal((0x8A, "are you there"), (pong.First, Encoding.UTF8.GetString(pong.Payload)));
    }

    [Fact]
    public async Task A_connection_whose_handshake_has_not_arrived_crosses_with_its_request_in_the_read_ahead()
    {
        var first = Generation(new ChatSocket(1));
        using var client = await RawClient.ConnectAsync(this, first, handshake: false);
        var request = RawClient.Request("/late");
        await client.SendAsync(Encoding.ASCII.GetBytes(request[..20]));
        var second = Generation(new ChatSocket(2));
        await HandOverAsync(first, second, during: () => client.SendAsync(Encoding.ASCII.GetBytes(request[20..])));
        await client.ReadHandshakeAsync();
        await client.SendAsync(Text("hi"));
        Assert.Equal("2 1 /late hi", await client.ReadTextAsync());
    }

    [Fact]
    public async Task Ending_a_connection_sends_1012_when_the_generation_stops_and_1013_when_the_next_had_no_fd_for_it()
    {
        var first = Generation(new ChatSocket(1));
        using var stopping = new ClientWebSocket();
        await ConnectAsync(first, stopping, "/");
        using var refused = new ClientWebSocket();
        await ConnectAsync(first, refused, "/");
        Assert.Equal("1 1 / a", await AskAsync(refused, "a"));

        // The next generation got no fd for one of them: the one holding it ends it with 1013.
        var paused = await first.PauseAllAsync(default);
        var records = HandedConnections.Records(paused);
        foreach (var c in paused) c.Sent = true;
        var next = Generation(new ChatSocket(2));
        var prepared = next.Stage([new ReceivedConnection(records[1], null)]);
        Assert.Equal("fd_limit", Assert.Single(prepared.Refused).Reason);
        await first.ReleaseAsync(new ReleaseMessage(1, [], prepared.Refused));
        Assert.Equal((WebSocketCloseStatus)1013, await ReceiveCloseAsync(refused));

        // The other one, never told about, is closed as sent; a fresh one is ended on stop with 1012.
        var third = Generation(new ChatSocket(3));
        using var served = new ClientWebSocket();
        await ConnectAsync(third, served, "/");
        Assert.Equal("3 1 / b", await AskAsync(served, "b"));
        await third.StopAsync(TimeSpan.FromSeconds(5));
        Assert.Equal((WebSocketCloseStatus)1012, await ReceiveCloseAsync(served));
    }

    [Fact]
    public async Task The_next_generation_refuses_framing_it_cannot_take_and_sessions_it_cannot_read()
    {
        var first = Generation(new ChatSocket(1, maxMessageBytes: 1 << 20));
        using var client = new ClientWebSocket();
        await ConnectAsync(first, client, "/");
        await client.SendAsync(new byte[5000], WebSocketMessageType.Binary, endOfMessage: false, default);
        await Task.Delay(100); // the fragment is read and held as the partial message
        var paused = await first.PauseAllAsync(default);
        var record = Assert.Single(HandedConnections.Records(paused));
        Assert.Equal((byte)ConnectionKind.WebSocket, record.Kind);
        Assert.Equal(8 + 5000, record.Framing.Length);

        // A version whose limit is under the partial message refuses it; so does one given a corrupt session.
        var small = Generation(new ChatSocket(2, maxMessageBytes: 1024));
        var refused = Assert.Single(small.Stage([new ReceivedConnection(record, Dup(paused[0]))]).Refused);
        Assert.Equal("framing", refused.Reason);
        var corrupt = record with { Session = new byte[] { 0xFF, 0xFF, 0xFF } };
        refused = Assert.Single(Generation(new ChatSocket(2)).Stage([new ReceivedConnection(corrupt, Dup(paused[0]))]).Refused);
        Assert.Equal("session", refused.Reason);
        var raw = record with { Kind = (byte)ConnectionKind.Raw };
        refused = Assert.Single(Generation(new ChatSocket(2)).Stage([new ReceivedConnection(raw, Dup(paused[0]))]).Refused);
        Assert.Equal("kind_mismatch", refused.Reason);
    }

    [Fact]
    public async Task A_connection_in_its_closing_handshake_is_not_handed_over()
    {
        var first = Generation(new ChatSocket(1));
        using var client = await RawClient.ConnectAsync(this, first);
        await client.SendAsync(Text("bye"));
        var close = await client.ReadFrameAsync();
        Assert.Equal(0x88, close.First);
        // The client has not answered the close when the hand-over comes: the connection ends instead.
        Assert.Empty(await first.PauseAllAsync(default));
        Assert.Equal(0, await client.ReadRawAsync());
    }

    [Fact]
    public async Task A_close_the_handler_starts_ends_the_connection_a_second_later_when_the_client_does_not_answer_it()
    {
        var first = Generation(new ChatSocket(1));
        using var client = await RawClient.ConnectAsync(this, first);
        await client.SendAsync(Text("bye"));
        Assert.Equal(0x88, (await client.ReadFrameAsync()).First);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Assert.Equal(0, await client.ReadRawAsync()); // the end of the stream, not the test's 10 s timeout
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(0.5), TimeSpan.FromSeconds(5));
        using var deadline = new CancellationTokenSource(Timeout);
        while (first.Count > 0) await Task.Delay(10, deadline.Token);
    }

    [Fact]
    public async Task A_protocol_error_or_a_failing_handler_on_a_live_connection_is_answered_with_its_close_code_and_the_end()
    {
        var first = Generation(new ChatSocket(1, maxMessageBytes: 100));
        using var unmasked = await RawClient.ConnectAsync(this, first);
        await unmasked.SendAsync(Frame(WebSocketOpcode.Text, "a"u8, masked: false));
        Assert.Equal(1002, (await unmasked.ReadFrameAsync()).CloseCode);
        Assert.Equal(0, await unmasked.ReadRawAsync());

        using var big = await RawClient.ConnectAsync(this, first);
        await big.SendAsync(Frame(WebSocketOpcode.Binary, new byte[101]));
        Assert.Equal(1009, (await big.ReadFrameAsync()).CloseCode);

        using var utf8 = await RawClient.ConnectAsync(this, first);
        await utf8.SendAsync(Frame(WebSocketOpcode.Text, [0xFF]));
        Assert.Equal(1007, (await utf8.ReadFrameAsync()).CloseCode);

        using var failing = await RawClient.ConnectAsync(this, first);
        await failing.SendAsync(Text("boom"));
        Assert.Equal(1011, (await failing.ReadFrameAsync()).CloseCode);
        Assert.Equal(0, await failing.ReadRawAsync());
    }

    private HandedConnections Generation(RelayConnectionHandler handler)
    {
        var generation = new HandedConnections(new Dictionary<string, RelayConnectionHandler> { ["chat"] = handler }, NullLogger.Instance);
        _generations.Add(generation);
        return generation;
    }

    private HandedConnections Generation(RelayWebSocketHandler handler) => Generation(handler.CreateEndpoint());

    private async Task ConnectAsync(HandedConnections generation, ClientWebSocket client, string path)
    {
        var port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        var connect = client.ConnectAsync(new Uri($"ws://127.0.0.1:{port}{path}"), default);
        generation.Accepted("chat", await _listener.AcceptSocketAsync().WaitAsync(Timeout));
        await connect.WaitAsync(Timeout);
    }

    /// <summary>FREEZE, IMPORT, COMMIT and RELEASE as the supervisor orders them, <paramref name="during"/> while no one serves the connections.</summary>
    private static async Task HandOverAsync(HandedConnections from, HandedConnections to, Func<Task>? during = null)
    {
        var paused = await from.PauseAllAsync(default);
        var records = HandedConnections.Records(paused);
        foreach (var c in paused) c.Sent = true;
        var prepared = to.Stage([.. records.Select((r, i) => new ReceivedConnection(r, Dup(paused[i])))]);
        Assert.Empty(prepared.Refused);
        if (during is not null) await during();
        to.ServeAll();
        await from.ReleaseAsync(new ReleaseMessage(1, prepared.Adopted, prepared.Refused));
    }

    /// <summary>The other generation's copy of the socket, as SCM_RIGHTS gives it.</summary>
    private static SafeFileHandle Dup(HandedConnection connection) => new(Libc.DupCloseOnExec((int)connection.Socket.Handle, 3), ownsHandle: true);

    private static async Task<string> AskAsync(ClientWebSocket client, string text)
    {
        await client.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, default).WaitAsync(Timeout);
        return await ReceiveTextAsync(client);
    }

    private static async Task<string> ReceiveTextAsync(ClientWebSocket client) => Encoding.UTF8.GetString(await ReceiveAsync(client, WebSocketMessageType.Text));

    private static Task<byte[]> ReceiveBinaryAsync(ClientWebSocket client) => ReceiveAsync(client, WebSocketMessageType.Binary);

    private static async Task<byte[]> ReceiveAsync(ClientWebSocket client, WebSocketMessageType type)
    {
        var message = new MemoryStream();
        var buffer = new byte[8192];
        while (true)
        {
            var result = await client.ReceiveAsync(buffer, default).WaitAsync(Timeout);
            Assert.Equal(type, result.MessageType);
            message.Write(buffer, 0, result.Count);
            if (result.EndOfMessage) return message.ToArray();
        }
    }

    private static async Task<WebSocketCloseStatus?> ReceiveCloseAsync(ClientWebSocket client)
    {
        var result = await client.ReceiveAsync(new byte[1024], default).WaitAsync(Timeout);
        Assert.Equal(WebSocketMessageType.Close, result.MessageType);
        return result.CloseStatus;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var generation in _generations) await generation.StopAsync(TimeSpan.FromSeconds(1));
        _listener.Stop();
    }

    /// <summary>A client on a plain socket: it writes frames (masked) byte for byte and reads the server's.</summary>
    private sealed class RawClient : IDisposable
    {
        private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        private readonly List<byte> _received = [];

        public static string Request(string path) =>
            $"GET {path} HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

        public static async Task<RawClient> ConnectAsync(WebSocketHandoverTests test, HandedConnections generation, bool handshake = true)
        {
            var client = new RawClient();
            var connect = client._socket.ConnectAsync((IPEndPoint)test._listener.LocalEndpoint);
            generation.Accepted("chat", await test._listener.AcceptSocketAsync().WaitAsync(Timeout));
            await connect.WaitAsync(Timeout);
            if (handshake)
            {
                await client.SendAsync(Encoding.ASCII.GetBytes(Request("/")));
                await client.ReadHandshakeAsync();
            }
            return client;
        }

        public async Task SendAsync(byte[] bytes) => await _socket.SendAsync(bytes).WaitAsync(Timeout);

        public async Task ReadHandshakeAsync()
        {
            while (true)
            {
                var text = Encoding.ASCII.GetString([.. _received]);
                int end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
                if (end >= 0)
                {
                    Assert.StartsWith("HTTP/1.1 101 ", text);
                    Assert.Contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", text);
                    _received.RemoveRange(0, end + 4);
                    return;
                }
                Assert.NotEqual(0, await ReadRawAsync());
            }
        }

        /// <summary>Bytes read from the socket into the buffer: 0 at the end of the stream.</summary>
        public async Task<int> ReadRawAsync()
        {
            var chunk = new byte[4096];
            int n = await _socket.ReceiveAsync(chunk).WaitAsync(Timeout);
            _received.AddRange(chunk.AsSpan(0, n));
            return n;
        }

        /// <summary>The next server frame (unmasked, length under 64 KiB): its first byte and payload.</summary>
        public async Task<(byte First, byte[] Payload, int CloseCode)> ReadFrameAsync()
        {
            while (true)
            {
                if (_received.Count >= 2)
                {
                    int length = _received[1] & 0x7F, header = 2;
                    if (length == 126 && _received.Count >= 4)
                    {
                        length = (_received[2] << 8) | _received[3];
                        header = 4;
                    }
                    if (length < 126 || header == 4)
                        if (_received.Count >= header + length)
                        {
                            byte first = _received[0];
                            var payload = _received.GetRange(header, length).ToArray();
                            _received.RemoveRange(0, header + length);
                            int code = first == 0x88 && payload.Length >= 2 ? (payload[0] << 8) | payload[1] : 0;
                            return (first, payload, code);
                        }
                }
                Assert.NotEqual(0, await ReadRawAsync());
            }
        }

        public async Task<string> ReadTextAsync()
        {
            var frame = await ReadFrameAsync();
            Assert.Equal(0x81, frame.First);
            return Encoding.UTF8.GetString(frame.Payload);
        }

        public void Dispose() => _socket.Dispose();
    }
}
