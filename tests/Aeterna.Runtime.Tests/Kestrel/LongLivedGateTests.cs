using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using Aeterna.Runtime.Tests.Support;

namespace Aeterna.Runtime.Tests.Kestrel;

/// <summary>
/// The request gate with long-lived connections open, on real Kestrel and real clients over
/// loopback: a WebSocket and a streaming response stop counting as in flight the moment they
/// become long-lived, so neither a freeze nor a checkpoint pause waits for them; an ordinary
/// request still does. And the lame duck's ending: 1012 for a WebSocket, an event stream ended
/// between events.
/// </summary>
public sealed class LongLivedGateTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task An_open_WebSocket_does_not_hold_a_freeze_and_its_handler_runs_on()
    {
        await using var server = await GatedServer.StartAsync();
        using var socket = await ConnectAsync(server);
        Assert.Equal("hello", await EchoAsync(socket, "hello"));
        Assert.Equal(1, server.LongLived.Count);
        Assert.Equal(0, server.Gate.InFlight);

        await server.Gate.FreezeAsync(default).WaitAsync(Guard);

        Assert.Equal("after the freeze", await EchoAsync(socket, "after the freeze"));
    }

    [Fact]
    public async Task A_streaming_response_does_not_hold_a_freeze()
    {
        await using var server = await GatedServer.StartAsync();
        using var http = new HttpClient { BaseAddress = server.Address };
        using var response = await http.GetAsync("/events", HttpCompletionOption.ResponseHeadersRead);
        using var events = new StreamReader(await response.Content.ReadAsStreamAsync());
        Assert.Equal("id: 0", await events.ReadLineAsync());
        Assert.Equal("data: event 0", await events.ReadLineAsync());
        await GatedServer.EventuallyAsync(() => server.LongLived.Count == 1, "the stream is long-lived");
        Assert.Equal(0, server.Gate.InFlight);

        await server.Gate.FreezeAsync(default).WaitAsync(Guard);

        Assert.Equal("", await events.ReadLineAsync()); // it streams on after the freeze
        Assert.Equal("id: 1", await events.ReadLineAsync());
    }

    [Fact]
    public async Task An_ordinary_request_holds_the_freeze_until_it_has_finished()
    {
        await using var server = await GatedServer.StartAsync();
        using var http = new HttpClient { BaseAddress = server.Address };
        var slow = http.GetStringAsync("/slow");
        await GatedServer.EventuallyAsync(() => server.Gate.InFlight == 1, "the request is in the app");

        var freeze = server.Gate.FreezeAsync(default);
        await Task.Delay(200);
        Assert.False(freeze.IsCompleted, "the freeze completed while a request was still in the app");
        Assert.Equal(0, server.LongLived.Count);

        server.ReleaseSlow();
        await freeze.WaitAsync(Guard);
        Assert.Equal("slow done", await slow.WaitAsync(Guard));
    }

    [Fact]
    public async Task A_checkpoint_pause_is_not_held_by_long_lived_connections_and_no_request_waits_behind_them()
    {
        await using var server = await GatedServer.StartAsync();
        using var socket = await ConnectAsync(server);
        Assert.Equal("one", await EchoAsync(socket, "one"));
        using var http = new HttpClient { BaseAddress = server.Address };
        using var stream = await http.GetAsync("/events", HttpCompletionOption.ResponseHeadersRead);
        await GatedServer.EventuallyAsync(() => server.LongLived.Count == 2, "the WebSocket and the stream are long-lived");

        await server.Gate.PauseAsync(default).WaitAsync(Guard);
        Assert.Equal("during the pause", await EchoAsync(socket, "during the pause")); // long-lived ones are never held
        var held = http.GetStringAsync("/");
        await Task.Delay(100);
        Assert.False(held.IsCompleted, "a request entered the app during the pause");
        server.Gate.Unpause();

        Assert.Equal("ok", await held.WaitAsync(Guard));
        // And with both open, a new ordinary request is answered as usual.
        Assert.Equal("ok", await http.GetStringAsync("/").WaitAsync(Guard));
    }

    [Fact]
    public async Task Ending_closes_a_WebSocket_with_1012_and_the_app_finishes_the_handshake()
    {
        await using var server = await GatedServer.StartAsync();
        using var socket = await ConnectAsync(server);
        Assert.Equal("hello", await EchoAsync(socket, "hello"));

        var ending = server.LongLived.EndAllAsync(TimeSpan.FromSeconds(5));
        var received = await socket.ReceiveAsync(new byte[64], default).WaitAsync(Guard);
        Assert.Equal(WebSocketMessageType.Close, received.MessageType);
        Assert.Equal(1012, (int)received.CloseStatus!);
        Assert.Equal("service restart", received.CloseStatusDescription);
        await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, default).WaitAsync(Guard);

        var ended = await ending.WaitAsync(Guard);
        Assert.Equal(new(WebSockets: 1, Streams: 0, Upgraded: 0, Aborted: 0), ended);
        Assert.Equal(WebSocketState.Closed, socket.State);
        Assert.Equal(0, server.LongLived.Count);
    }

    [Fact]
    public async Task A_message_the_app_is_busy_with_when_the_ending_starts_is_answered_before_the_1012()
    {
        await using var server = await GatedServer.StartAsync();
        using var socket = await ConnectAsync(server);
        await socket.SendAsync(Encoding.UTF8.GetBytes("slow one"), WebSocketMessageType.Text, endOfMessage: true, default).WaitAsync(Guard);
        await GatedServer.EventuallyAsync(() => server.WebSocketMessages.Contains("slow one"), "the app took the message in");

        var ending = server.LongLived.EndAllAsync(TimeSpan.FromSeconds(5));
        var buffer = new byte[64];
        var reply = await socket.ReceiveAsync(buffer, default).WaitAsync(Guard);
        Assert.Equal(WebSocketMessageType.Text, reply.MessageType);
        Assert.Equal("slow one", Encoding.UTF8.GetString(buffer, 0, reply.Count));
        var close = await socket.ReceiveAsync(buffer, default).WaitAsync(Guard);
        Assert.Equal(1012, (int)close.CloseStatus!);
        await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, default).WaitAsync(Guard);
        Assert.Equal(0, (await ending.WaitAsync(Guard)).Aborted);
    }

    [Fact]
    public async Task A_message_the_client_sends_after_the_1012_never_reaches_the_app()
    {
        await using var server = await GatedServer.StartAsync();
        using var socket = await ConnectAsync(server);
        Assert.Equal("hello", await EchoAsync(socket, "hello"));

        var ending = server.LongLived.EndAllAsync(TimeSpan.FromSeconds(5));
        var close = await socket.ReceiveAsync(new byte[64], default).WaitAsync(Guard);
        Assert.Equal(1012, (int)close.CloseStatus!);
        // A client that had not read the close yet: its message crosses it. The app could take it
        // in but never answer it (it may send no data after a close), so it never sees it: a
        // 70,000-byte one (64-bit length, split across reads) and a short one, then the close.
        await socket.SendAsync(new byte[70_000], WebSocketMessageType.Binary, endOfMessage: true, default).WaitAsync(Guard);
        await socket.SendAsync(Encoding.UTF8.GetBytes("late"), WebSocketMessageType.Text, endOfMessage: true, default).WaitAsync(Guard);
        await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, default).WaitAsync(Guard);

        Assert.Equal(new(WebSockets: 1, Streams: 0, Upgraded: 0, Aborted: 0), await ending.WaitAsync(Guard));
        Assert.Equal(["hello"], server.WebSocketMessages);
        Assert.Equal(WebSocketState.Closed, socket.State);
    }

    [Fact]
    public async Task Ending_ends_an_event_stream_between_two_events_with_its_terminating_chunk()
    {
        await using var server = await GatedServer.StartAsync();
        using var http = new HttpClient { BaseAddress = server.Address };
        using var response = await http.GetAsync("/events", HttpCompletionOption.ResponseHeadersRead);
        var body = await response.Content.ReadAsStreamAsync();
        var text = new StringBuilder();
        var buffer = new byte[256];
        while (!text.ToString().Contains("id: 3"))
            text.Append(Encoding.UTF8.GetString(buffer, 0, await body.ReadAsync(buffer).AsTask().WaitAsync(Guard)));

        var ended = await server.LongLived.EndAllAsync(TimeSpan.FromSeconds(5)).WaitAsync(Guard);
        // The rest reads to a clean end: a response cut without its last chunk would throw here.
        using (var rest = new StreamReader(body)) text.Append(await rest.ReadToEndAsync().WaitAsync(Guard));

        Assert.Equal(new(WebSockets: 0, Streams: 1, Upgraded: 0, Aborted: 0), ended);
        string all = text.ToString();
        Assert.EndsWith("\n\n", all);
        var events = all.Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        for (int i = 0; i < events.Length; i++) Assert.Equal($"id: {i}\ndata: event {i}", events[i]);
        Assert.True(events.Length >= 4);
    }

    [Fact]
    public async Task A_WebSocket_handshake_reaching_a_frozen_generation_is_refused_so_that_the_client_reconnects()
    {
        await using var server = await GatedServer.StartAsync();
        await server.Gate.FreezeAsync(default).WaitAsync(Guard);

        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(server.Address.Host, server.Address.Port);
        await client.SendAsync(Encoding.ASCII.GetBytes(
            $"GET /ws HTTP/1.1\r\nHost: {server.Address.Authority}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"));
        var answer = new StringBuilder();
        var buffer = new byte[1024];
        using var timeout = new CancellationTokenSource(Guard);
        int n;
        while ((n = await client.ReceiveAsync(buffer, SocketFlags.None, timeout.Token)) > 0) answer.Append(Encoding.ASCII.GetString(buffer, 0, n));

        // Read to the end: the connection is closed after the answer.
        Assert.StartsWith("HTTP/1.1 503", answer.ToString());
        Assert.Contains("Connection: close", answer.ToString(), StringComparison.OrdinalIgnoreCase);
        Assert.Equal(0, server.LongLived.Count);
    }

    private static async Task<ClientWebSocket> ConnectAsync(GatedServer server)
    {
        var socket = new ClientWebSocket();
        await socket.ConnectAsync(server.WebSocketAddress, default).WaitAsync(Guard);
        return socket;
    }

    private static async Task<string> EchoAsync(ClientWebSocket socket, string text)
    {
        await socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, endOfMessage: true, default).WaitAsync(Guard);
        var buffer = new byte[4096];
        var received = await socket.ReceiveAsync(buffer, default).WaitAsync(Guard);
        return Encoding.UTF8.GetString(buffer, 0, received.Count);
    }
}
