using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Aeterna.Tests.Support;
using Xunit.Abstractions;

namespace Aeterna.Integration.Tests.Relay;

/// <summary>
/// The template's agent (tests/apps/TemplateAgent, its JIT build) with WebSocket clients and
/// streamed replies on its handed endpoint (the listener <c>ws</c>: <c>/sessions/{id}/ws</c> and
/// <c>POST /sessions/{id}/messages</c> with <c>Accept: text/event-stream</c>) through two real
/// relays: no client sees a close, every message is answered exactly once and in order with the
/// conversation's turn numbers going on across generations, the replies name each new
/// generation, every stream is one whole response with each token once and in order (and
/// streams change generation in the middle), and every turn is in the shared memory once (the
/// HTTP history), a streamed reply whole. A path other than <c>/sessions/{id}/ws</c> is closed
/// with 1008 right after the handshake.
/// </summary>
public sealed class AgentHandedWebSocketTests(ITestOutputHelper output)
{
    private const int Clients = 5;
    private const int Typists = 2;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Five_chats_and_two_streamed_replies_on_the_handed_endpoint_cross_two_relays_with_every_turn_and_token_once_in_order()
    {
        using var dir = new TempDirectory();
        int http = FreePort.Get(), ws = FreePort.Get();
        var config = new TestConfig
        {
            Command = ["dotnet", TestApps.TemplateAgent], Port = http, MoreListeners = new Dictionary<string, int> { ["ws"] = ws },
            Readiness = "auto", ReadyTimeout = "20s", Drain = "3s", Handoff = ["enabled: true", "timeout: 10s"], Environment = ["AGENT_TOKEN_DELAY_MS=30"],
        }.WriteTo(dir);
        await using var supervisor = SupervisorProcess.Start(config, output);
        await supervisor.WaitForActiveAsync(1, TimeSpan.FromSeconds(30));
        using var agent = new AgentClient(http);
        await agent.WaitHealthyAsync(Timeout, () => string.Join('\n', supervisor.Log));

        using (var stray = new ClientWebSocket())
        {
            await stray.ConnectAsync(new Uri($"ws://127.0.0.1:{ws}/elsewhere"), default).WaitAsync(Timeout);
            var refused = await stray.ReceiveAsync(new byte[256], default).WaitAsync(Timeout);
            Assert.Equal(WebSocketMessageType.Close, refused.MessageType);
            Assert.Equal(WebSocketCloseStatus.PolicyViolation, stray.CloseStatus);
        }

        var clients = new List<Chat>();
        for (int i = 0; i < Clients; i++) clients.Add(await Chat.ConnectAsync(ws, $"handed-{i}"));
        var typists = Enumerable.Range(0, Typists).Select(i => new Typist(ws, $"streamed-{i}")).ToList();
        using var stop = new CancellationTokenSource();
        var talking = clients.Select(c => c.TalkUntilAsync(stop.Token)).ToList();
        var typing = typists.Select(t => t.TypeUntilAsync(stop.Token)).ToList();
        var clock = Stopwatch.StartNew();
        try
        {
            await WaitForAllAsync(clients, typists, 1);
            for (int generation = 2; generation <= 3; generation++)
            {
                Assert.Equal("committed", await supervisor.RelayOverSocketAsync());
                await WaitForAllAsync(clients, typists, generation);
            }
        }
        finally
        {
            stop.Cancel();
        }
        var replies = await Task.WhenAll(talking);
        var streams = await Task.WhenAll(typing);
        output.WriteLine($"two relays in {clock.Elapsed.TotalSeconds:F1} s");

        foreach (var (client, mine) in clients.Zip(replies))
        {
            Assert.Equal(WebSocketState.Open, client.Socket.State);
            Assert.Null(client.Socket.CloseStatus);
            // Each message answered once, in order: the conversation's turns 1, 2, 3, … whichever generation took them.
            Assert.Equal(Enumerable.Range(1, mine.Count), mine.Select(r => r.Turn));
            Assert.All(mine, r => Assert.False(string.IsNullOrWhiteSpace(r.Reply)));
            Assert.Equal(new[] { 1, 2, 3 }, Runs(mine.Select(r => r.Generation)));
            // The shared memory has every turn once: the user's message and the reply the socket got, in order.
            var history = await agent.HistoryAsync(client.Session);
            Assert.NotNull(history);
            Assert.Equal(mine.SelectMany(r => new[] { new Turn("user", r.Sent), new Turn("agent", r.Reply) }), history);
            await client.Socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, default).WaitAsync(Timeout);
        }
        output.WriteLine($"{Clients} sockets, {replies.Sum(r => r.Count)} turns, by generation: {string.Join(", ", replies.SelectMany(r => r).GroupBy(r => r.Generation).OrderBy(g => g.Key).Select(g => $"{g.Key}: {g.Count()}"))}");

        int crossed = 0;
        foreach (var (typist, mine) in typists.Zip(streams))
        {
            // Every stream whole: tokens 0, 1, 2, … once each, then done with its turn and count.
            Assert.All(mine, s => Assert.Equal(Enumerable.Range(0, s.Tokens.Count), s.Indexes));
            Assert.Equal(Enumerable.Range(1, mine.Count), mine.Select(s => s.Turn));
            Assert.Equal(new[] { 1, 2, 3 }, Runs(mine.SelectMany(s => s.Generations)));
            crossed += mine.Count(s => s.Generations.Distinct().Count() > 1);
            // The reply in the history once, whole, after its message, whichever generation finished it.
            var history = await agent.HistoryAsync(typist.Session);
            Assert.NotNull(history);
            Assert.Equal(mine.SelectMany(s => new[] { new Turn("user", s.Sent), new Turn("agent", string.Concat(s.Tokens)) }), history);
        }
        // A relay lands in the middle of a stream (two typists type without a gap between replies).
        Assert.True(crossed >= 2, $"{crossed} stream(s) changed generation midway");
        output.WriteLine($"{Typists} typists, {streams.Sum(s => s.Count)} streamed replies, {crossed} across a relay, {streams.Sum(s => s.Sum(r => r.Tokens.Count))} tokens");
    }

    private static async Task WaitForAllAsync(List<Chat> clients, List<Typist> typists, int generation)
    {
        using var deadline = new CancellationTokenSource(Timeout);
        while (!clients.All(c => c.HasSeen(generation)) || !typists.All(t => t.HasSeen(generation)))
        {
            foreach (var c in clients) if (c.Failure is { } e) throw new Xunit.Sdk.XunitException($"{c.Session} failed: {e}");
            foreach (var t in typists) if (t.Failure is { } e) throw new Xunit.Sdk.XunitException($"{t.Session} failed: {e}");
            await Task.Delay(20, deadline.Token);
        }
    }

    /// <summary>The value of each run of equal ones, e.g. 1 1 2 2 3 → 1 2 3.</summary>
    private static List<int> Runs(IEnumerable<int> values)
    {
        var runs = new List<int>();
        foreach (int v in values)
            if (runs.Count == 0 || runs[^1] != v) runs.Add(v);
        return runs;
    }

    private sealed record Answer(int Generation, int Turn, string Reply, string Sent);

    private sealed record Streamed(string Sent, int Turn, List<int> Indexes, List<int> Generations, List<string> Tokens);

    /// <summary>
    /// One conversation of streamed replies on the handed endpoint: a message posted with
    /// <c>Accept: text/event-stream</c>, its events read to <c>event: done</c>, the next message
    /// at once, all on one keep-alive connection (so that it crosses relays between streams too).
    /// </summary>
    private sealed class Typist(int port, string session)
    {
        private readonly Lock _lock = new();
        private readonly HashSet<int> _seen = [];
        private readonly HttpClient _http = new(new SocketsHttpHandler { MaxConnectionsPerServer = 1 }) { BaseAddress = new Uri($"http://127.0.0.1:{port}") };

        public string Session { get; } = session;

        public Exception? Failure { get; private set; }

        public bool HasSeen(int generation)
        {
            lock (_lock) return _seen.Contains(generation);
        }

        public async Task<List<Streamed>> TypeUntilAsync(CancellationToken stop)
        {
            var streams = new List<Streamed>();
            try
            {
                for (int i = 0; !stop.IsCancellationRequested; i++)
                {
                    string sent = $"Fact {i} of {Session}.";
                    using var request = new HttpRequestMessage(HttpMethod.Post, $"/sessions/{Session}/messages")
                    {
                        Content = new StringContent(JsonSerializer.Serialize(new { text = sent }), Encoding.UTF8, "application/json"),
                        Headers = { { "Accept", "text/event-stream" } },
                    };
                    using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead).WaitAsync(Timeout);
                    response.EnsureSuccessStatusCode();
                    using var body = new StreamReader(await response.Content.ReadAsStreamAsync());
                    var streamed = new Streamed(sent, 0, [], [], []);
                    string? name = null, line;
                    while ((line = await body.ReadLineAsync().WaitAsync(Timeout)) is not null)
                    {
                        if (line.StartsWith("event: ", StringComparison.Ordinal)) name = line[7..];
                        if (!line.StartsWith("data: ", StringComparison.Ordinal)) continue;
                        var root = JsonDocument.Parse(line[6..]).RootElement;
                        if (name == "done")
                        {
                            streamed = streamed with { Turn = root.GetProperty("turn").GetInt32() };
                            Assert.Equal(streamed.Tokens.Count, root.GetProperty("tokens").GetInt32());
                            continue;
                        }
                        Assert.Null(name); // no cut, no other event
                        int generation = root.GetProperty("generation").GetInt32();
                        streamed.Indexes.Add(root.GetProperty("index").GetInt32());
                        streamed.Generations.Add(generation);
                        streamed.Tokens.Add(root.GetProperty("token").GetString()!);
                        lock (_lock) _seen.Add(generation);
                    }
                    Assert.NotEqual(0, streamed.Turn); // the stream ended with done
                    streams.Add(streamed);
                }
            }
            catch (Exception e)
            {
                Failure = e;
                throw;
            }
            finally
            {
                _http.Dispose();
            }
            return streams;
        }
    }

    /// <summary>One conversation: a ClientWebSocket that sends a message, waits for its answer, and sends the next.</summary>
    private sealed class Chat
    {
        private readonly Lock _lock = new();
        private readonly HashSet<int> _seen = [];

        private Chat(string session) => Session = session;

        public string Session { get; }

        public ClientWebSocket Socket { get; } = new();

        public Exception? Failure { get; private set; }

        public static async Task<Chat> ConnectAsync(int port, string session)
        {
            var chat = new Chat(session);
            await chat.Socket.ConnectAsync(new Uri($"ws://127.0.0.1:{port}/sessions/{session}/ws"), default).WaitAsync(Timeout);
            return chat;
        }

        public bool HasSeen(int generation)
        {
            lock (_lock) return _seen.Contains(generation);
        }

        public async Task<List<Answer>> TalkUntilAsync(CancellationToken stop)
        {
            var replies = new List<Answer>();
            var buffer = new byte[64 * 1024];
            try
            {
                for (int i = 0; !stop.IsCancellationRequested; i++)
                {
                    string sent = $"Note {i} of {Session}.";
                    await Socket.SendAsync(Encoding.UTF8.GetBytes(sent), WebSocketMessageType.Text, true, default).WaitAsync(Timeout);
                    var result = await Socket.ReceiveAsync(buffer, default).WaitAsync(Timeout);
                    if (result.MessageType != WebSocketMessageType.Text || !result.EndOfMessage)
                        throw new IOException($"expected one text message, got {result.MessageType} (close {result.CloseStatus} {result.CloseStatusDescription})");
                    var root = JsonDocument.Parse(buffer.AsMemory(0, result.Count)).RootElement;
                    var reply = new Answer(root.GetProperty("generation").GetInt32(), root.GetProperty("turn").GetInt32(), root.GetProperty("reply").GetString()!, sent);
                    replies.Add(reply);
                    lock (_lock) _seen.Add(reply.Generation);
                    await Task.Delay(10, CancellationToken.None);
                }
            }
            catch (Exception e)
            {
                Failure = e;
                throw;
            }
            return replies;
        }
    }
}
