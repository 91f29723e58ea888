using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using Aeterna.Connections;
using Aeterna.Interop;
using Aeterna.EventStreams;
using Aeterna.Protocol;
using Aeterna.Runtime.Tests.WebSockets;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Win32.SafeHandles;

namespace Aeterna.Runtime.Tests.EventStreams;

/// <summary>
/// Streamed responses of a <see cref="RelayEventStreamHandler{TSession}"/> endpoint handed between
/// two generations' connection sets in this process (the socket duplicated as SCM_RIGHTS would),
/// read by .NET's HttpClient and by a client that reads the chunked body chunk by chunk: a stream
/// handed mid-reply and back is one well-formed response with every event once and in order; the
/// next request (pipelined, or after the stream) is answered on the same connection; a refused or
/// stopped stream ends at an event boundary with the end of the body; a client that leaves during
/// the hand-over is noticed by the next generation; one listener serves a WebSocket beside them.
/// </summary>
public sealed class EventStreamHandoverTests : IAsyncDisposable
{
    private static readonly TimeSpan Timeout = StreamClient.Timeout;
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly List<HandedConnections> _generations = [];

    public EventStreamHandoverTests() => _listener.Start();

    [Fact]
    public async Task A_stream_handed_mid_reply_and_back_reaches_httpclient_whole_with_every_event_once_then_keep_alive_goes_on()
    {
        var first = Generation(new CountStream(1));
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 1 }) { BaseAddress = Address };
        var sending = http.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/count/40") { Headers = { { "Accept", "text/event-stream" } } }, HttpCompletionOption.ResponseHeadersRead);
        await AcceptAsync(first);
        using var response = await sending.WaitAsync(Timeout);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        Assert.True(response.Headers.TransferEncodingChunked);
        using var body = new StreamReader(await response.Content.ReadAsStreamAsync());

        var events = new List<(string? Name, string? Id, string Data)>();
        await ReadEventsAsync(body, events, 5);
        var second = Generation(new CountStream(2));
        await HandOverAsync(first, second);
        await ReadEventsAsync(body, events, 15);
        var thirdHandler = new CountStream(1);
        var third = Generation(thirdHandler);
        await HandOverAsync(second, third); // back, as a rollback hands it
        await ReadEventsAsync(body, events, 41);
        Assert.Null(await body.ReadLineAsync().WaitAsync(Timeout)); // the body ended (HttpClient checked the last chunk)

        var tokens = events.Where(e => e.Name is null).ToList();
        Assert.Equal(Enumerable.Range(0, 40).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)), tokens.Select(e => e.Id));
        Assert.Equal(tokens.Select(e => e.Id), tokens.Select(e => e.Data.Split(' ')[1]));
        Assert.Equal(new[] { "1", "2", "1" }, Runs(tokens.Select(e => e.Data.Split(' ')[0])));
        Assert.Equal(("done", "40"), (events[^1].Name, events[^1].Data));
        using (var deadline = new CancellationTokenSource(Timeout))
            while (thirdHandler.Ended.IsEmpty) await Task.Delay(10, deadline.Token); // called just after the last chunk is sent
        Assert.Equal(("/count/40", 40, RelayStreamEnd.Completed), Assert.Single(thirdHandler.Ended));

        // The same connection takes the next request: no other is accepted.
        var again = await http.GetStringAsync("/count/2").WaitAsync(Timeout);
        Assert.Equal("id: 0\ndata: 1 0\n\nid: 1\ndata: 1 1\n\nevent: done\ndata: 2\n\n", again);
        Assert.Equal(1, third.Count);
    }

    [Fact]
    public async Task A_pipelined_request_crosses_in_the_read_ahead_and_is_answered_after_the_stream_by_the_next_generation()
    {
        var first = Generation(new CountStream(1, delayMs: 300));
        using var client = await ConnectAsync(first);
        await client.SendAsync(StreamClient.Get("/count/6") + StreamClient.Post("/echo", "after the stream"));
        var (status, headers) = await client.ReadHeadAsync();
        Assert.Equal((200, "chunked"), (status, headers["Transfer-Encoding"]));
        Assert.False(headers.ContainsKey("Connection"));
        Assert.Equal("id: 0\ndata: 1 0\n\n", await client.ReadChunkAsync());
        Assert.Equal("id: 1\ndata: 1 1\n\n", await client.ReadChunkAsync());

        var second = Generation(new CountStream(2));
        var paused = await HandOverAsync(first, second);
        Assert.Equal(ConnectionKind.HttpStream, paused[0].Kind);
        Assert.Equal(HttpStreamFraming.Write(keepAlive: true), paused[0].Framing.ToArray());
        Assert.EndsWith("after the stream", Encoding.ASCII.GetString(paused[0].ReadAhead.Span));
        // Each chunk is one whole event, in order; the rest by the next generation (any sent before the pause by this one).
        var by = new List<string>();
        for (int i = 2; i < 6; i++)
        {
            var chunk = await client.ReadChunkAsync();
            Assert.Matches($"^id: {i}\ndata: [12] {i}\n\n$", chunk);
            by.Add(chunk!.Split('\n')[1].Split(' ')[1]);
        }
        Assert.Equal("2", by[^1]);
        Assert.Equal(by.Order(), by);
        Assert.Equal("event: done\ndata: 6\n\n", await client.ReadChunkAsync());
        Assert.Null(await client.ReadChunkAsync());
        var echo = await client.ReadWholeAsync();
        Assert.Equal((200, "2", "after the stream"), (echo.Status, echo.Headers["X-Generation"], echo.Body));

        // Between requests the connection crosses with empty framing; a refusal keeps it alive too.
        var third = Generation(new CountStream(3));
        var idle = await HandOverAsync(second, third);
        Assert.True(idle[0].Framing.IsEmpty && idle[0].Session.IsEmpty);
        await client.SendAsync(StreamClient.Get("/missing"));
        var missing = await client.ReadWholeAsync();
        Assert.Equal((404, "no /missing here\n"), (missing.Status, missing.Body));
        await client.SendAsync(StreamClient.Get("/count/1", "Connection: close\r\n"));
        Assert.Equal("close", (await client.ReadHeadAsync()).Headers["Connection"]);
        Assert.Equal("id: 0\ndata: 3 0\n\n", await client.ReadChunkAsync());
        Assert.Equal("event: done\ndata: 1\n\n", await client.ReadChunkAsync());
        Assert.Null(await client.ReadChunkAsync());
        Assert.True(await client.IsClosedAsync());
    }

    [Fact]
    public async Task A_stream_the_next_generation_refuses_is_ended_by_the_old_one_at_a_boundary_with_a_cut_event_and_the_last_chunk()
    {
        var first = Generation(new CountStream(1));
        using var client = await ConnectAsync(first);
        await client.SendAsync(StreamClient.Get("/count/1000"));
        await client.ReadHeadAsync();
        Assert.Equal("id: 0\ndata: 1 0\n\n", await client.ReadChunkAsync());

        var paused = await first.PauseAllAsync(default);
        var record = Assert.Single(HandedConnections.Records(paused));
        paused[0].Sent = true;
        // A corrupt session and a framing of another version are refused, each for what it is.
        Assert.Equal("session", Assert.Single(Generation(new CountStream(2)).Stage([new(record with { Session = new byte[] { 0xFF, 0xFF } }, Dup(paused[0]))]).Refused).Reason);
        Assert.Equal("framing", Assert.Single(Generation(new CountStream(2)).Stage([new(record with { Framing = new byte[] { 2, 1, 0, 0 } }, Dup(paused[0]))]).Refused).Reason);
        var next = Generation(new CountStream(2));
        var prepared = next.Stage([new ReceivedConnection(record, null)]);
        Assert.Equal("fd_limit", Assert.Single(prepared.Refused).Reason);
        await first.ReleaseAsync(new ReleaseMessage(1, [], prepared.Refused));
        // The event in progress was not sent half: whole events (those sent before the pause), the cut, then the end.
        Assert.Equal("event: cut\ndata: fd_limit\n\n", await SkipEventsAsync(client, from: 1));
        Assert.Null(await client.ReadChunkAsync());
        Assert.True(await client.IsClosedAsync());
    }

    [Fact]
    public async Task A_generation_that_stops_ends_its_streams_with_the_last_chunk_and_an_idle_connection_with_a_close()
    {
        var first = Generation(new CountStream(1));
        using var streaming = await ConnectAsync(first);
        await streaming.SendAsync(StreamClient.Get("/count/1000"));
        await streaming.ReadHeadAsync();
        Assert.NotNull(await streaming.ReadChunkAsync());
        using var idle = await ConnectAsync(first);
        await first.StopAsync(TimeSpan.FromSeconds(5));
        Assert.Equal("event: cut\ndata: stopping\n\n", await SkipEventsAsync(streaming, from: 1));
        Assert.Null(await streaming.ReadChunkAsync());
        Assert.True(await streaming.IsClosedAsync());
        Assert.True(await idle.IsClosedAsync());
    }

    [Fact]
    public async Task A_client_that_closes_during_the_hand_over_is_noticed_by_the_next_generation_between_two_events()
    {
        var first = Generation(new CountStream(1));
        var client = await ConnectAsync(first);
        await client.SendAsync(StreamClient.Get("/count/1000"));
        await client.ReadHeadAsync();
        Assert.NotNull(await client.ReadChunkAsync());
        var handler = new CountStream(2);
        var second = Generation(handler);
        await HandOverAsync(first, second, during: () =>
        {
            client.Dispose();
            return Task.CompletedTask;
        });
        using var deadline = new CancellationTokenSource(Timeout);
        while (handler.Ended.IsEmpty || second.Count > 0) await Task.Delay(10, deadline.Token);
        var (path, next, end) = Assert.Single(handler.Ended);
        Assert.Equal(("/count/1000", RelayStreamEnd.ClientLeft), (path, end));
        Assert.InRange(next, 1, 999);
        Assert.Equal(0, first.Count);
    }

    [Fact]
    public async Task One_listener_serves_a_websocket_and_a_stream_and_hands_both_over()
    {
        var first = Generation(new HttpEndpoint(new ChatSocket(1).CreateEndpoint(), new CountStream(1).CreateService()));
        using var socket = new ClientWebSocket();
        var connect = socket.ConnectAsync(new Uri($"ws://127.0.0.1:{Address.Port}/rooms/1"), default);
        await AcceptAsync(first);
        await connect.WaitAsync(Timeout);
        using var stream = await ConnectAsync(first);
        await stream.SendAsync(StreamClient.Get("/count/100"));
        await stream.ReadHeadAsync();
        Assert.Equal("id: 0\ndata: 1 0\n\n", await stream.ReadChunkAsync());
        Assert.Equal("1 1 /rooms/1 a", await AskAsync(socket, "a"));

        var second = Generation(new HttpEndpoint(new ChatSocket(2).CreateEndpoint(), new CountStream(2).CreateService()));
        var paused = await HandOverAsync(first, second);
        Assert.Equal(new[] { ConnectionKind.WebSocket, ConnectionKind.HttpStream }, paused.Select(p => p.Kind));
        Assert.Equal("2 2 /rooms/1 b", await AskAsync(socket, "b"));
        string? chunk;
        var generations = new List<string> { "1" }; // the first event, read above
        while ((chunk = await stream.ReadChunkAsync()) is not null)
            if (!chunk.StartsWith("event: done", StringComparison.Ordinal)) generations.Add(chunk.Split('\n')[1].Split(' ')[1]);
        Assert.Equal(100, generations.Count);
        Assert.Equal(new[] { "1", "2" }, Runs(generations));

        // A WebSocket-only version takes the WebSocket back, and refuses the stream's kind.
        var socketsOnly = Generation(new ChatSocket(3).CreateEndpoint());
        var back = await second.PauseAllAsync(default);
        var records = HandedConnections.Records(back);
        var prepared = socketsOnly.Stage([.. records.Select((r, i) => new ReceivedConnection(r, Dup(back[i])))]);
        Assert.Equal("kind_mismatch", Assert.Single(prepared.Refused).Reason);
        Assert.Single(prepared.Adopted);
    }

    [Fact]
    public async Task A_bad_request_is_answered_with_its_status_and_the_connection_closed()
    {
        var first = Generation(new CountStream(1));
        using var client = await ConnectAsync(first);
        await client.SendAsync("POST /count/1 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
        var (status, headers, body) = await client.ReadWholeAsync();
        Assert.Equal((411, "close"), (status, headers["Connection"]));
        Assert.Contains("Content-Length", body, StringComparison.Ordinal);
        Assert.True(await client.IsClosedAsync());
    }

    private Uri Address => new($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}");

    private HandedConnections Generation(RelayConnectionHandler handler)
    {
        var generation = new HandedConnections(new Dictionary<string, RelayConnectionHandler> { ["http"] = handler }, NullLogger.Instance);
        _generations.Add(generation);
        return generation;
    }

    private HandedConnections Generation(CountStream handler) => Generation(new HttpEndpoint(null, handler.CreateService()));

    private async Task AcceptAsync(HandedConnections generation) =>
        generation.Accepted("http", await _listener.AcceptSocketAsync().WaitAsync(Timeout));

    private Task<StreamClient> ConnectAsync(HandedConnections generation) =>
        StreamClient.ConnectAsync((IPEndPoint)_listener.LocalEndpoint, () => AcceptAsync(generation));

    /// <summary>FREEZE, IMPORT, COMMIT and RELEASE as the supervisor orders them, <paramref name="during"/> while no one serves the connections.</summary>
    private static async Task<IReadOnlyList<HandedConnection>> HandOverAsync(HandedConnections from, HandedConnections to, Func<Task>? during = null)
    {
        var paused = await from.PauseAllAsync(new CancellationTokenSource(Timeout).Token);
        var records = HandedConnections.Records(paused);
        foreach (var c in paused) c.Sent = true;
        var prepared = to.Stage([.. records.Select((r, i) => new ReceivedConnection(r, Dup(paused[i])))]);
        Assert.Empty(prepared.Refused);
        if (during is not null) await during();
        to.ServeAll();
        await from.ReleaseAsync(new ReleaseMessage(1, prepared.Adopted, prepared.Refused));
        return paused;
    }

    /// <summary>
    /// Reads the stream's token events from number <paramref name="from"/> on (one whole event per
    /// chunk, in order, by generation 1) and returns the first chunk that is not one.
    /// </summary>
    private static async Task<string?> SkipEventsAsync(StreamClient client, int from)
    {
        for (int i = from; ; i++)
        {
            var chunk = await client.ReadChunkAsync();
            if (chunk is null || !chunk.StartsWith("id: ", StringComparison.Ordinal)) return chunk;
            Assert.Equal($"id: {i}\ndata: 1 {i}\n\n", chunk);
        }
    }

    /// <summary>Server-sent events read until <paramref name="count"/> are in <paramref name="events"/>.</summary>
    private static async Task ReadEventsAsync(StreamReader body, List<(string? Name, string? Id, string Data)> events, int count)
    {
        string? name = null, id = null, data = null;
        while (events.Count < count)
        {
            var line = await body.ReadLineAsync().WaitAsync(Timeout) ?? throw new IOException("the stream ended early");
            if (line.Length == 0)
            {
                events.Add((name, id, data!));
                name = id = data = null;
            }
            else if (line.StartsWith("event: ", StringComparison.Ordinal)) name = line[7..];
            else if (line.StartsWith("id: ", StringComparison.Ordinal)) id = line[4..];
            else if (line.StartsWith("data: ", StringComparison.Ordinal)) data = line[6..];
        }
    }

    private static List<string> Runs(IEnumerable<string> values)
    {
        var runs = new List<string>();
        foreach (var v in values)
            if (runs.Count == 0 || runs[^1] != v) runs.Add(v);
        return runs;
    }

    private static async Task<string> AskAsync(ClientWebSocket client, string text)
    {
        await client.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, default).WaitAsync(Timeout);
        var buffer = new byte[4096];
        var result = await client.ReceiveAsync(buffer, default).WaitAsync(Timeout);
        return Encoding.UTF8.GetString(buffer, 0, result.Count);
    }

    /// <summary>The other generation's copy of the socket, as SCM_RIGHTS gives it.</summary>
    private static SafeFileHandle Dup(HandedConnection connection) => new(Libc.DupCloseOnExec((int)connection.Socket.Handle, 3), ownsHandle: true);

    public async ValueTask DisposeAsync()
    {
        foreach (var generation in _generations) await generation.StopAsync(TimeSpan.FromSeconds(1));
        _listener.Stop();
    }
}
