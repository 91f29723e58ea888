using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Aeterna.Tests.Support;
using Xunit.Abstractions;

namespace Aeterna.Integration.Tests.Relay;

/// <summary>
/// The template's agent (tests/apps/TemplateAgent, its JIT build) with WebSocket clients on its
/// handed endpoint (the listener <c>ws</c>, <c>/sessions/{id}/ws</c>) through two real relays:
/// no client sees a close, every message is answered exactly once and in order with the
/// conversation's turn numbers going on across generations, the replies name each new
/// generation, and every turn is in the shared memory once (the HTTP history). A path other
/// than <c>/sessions/{id}/ws</c> is closed with 1008 right after the handshake.
/// </summary>
public sealed class AgentHandedWebSocketTests(ITestOutputHelper output)
{
    private const int Clients = 5;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Five_chats_on_the_handed_endpoint_cross_two_relays_with_every_turn_answered_once_in_order()
    {
        using var dir = new TempDirectory();
        int http = FreePort.Get(), ws = FreePort.Get();
        var config = new TestConfig
        {
            Command = ["dotnet", TestApps.TemplateAgent], Port = http, MoreListeners = new Dictionary<string, int> { ["ws"] = ws },
            Readiness = "auto", ReadyTimeout = "20s", Drain = "3s", Handoff = ["enabled: true", "timeout: 10s"],
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
        using var stop = new CancellationTokenSource();
        var talking = clients.Select(c => c.TalkUntilAsync(stop.Token)).ToList();
        var clock = Stopwatch.StartNew();
        try
        {
            await WaitForAllAsync(clients, 1);
            for (int generation = 2; generation <= 3; generation++)
            {
                Assert.Equal("committed", await supervisor.RelayOverSocketAsync());
                await WaitForAllAsync(clients, generation);
            }
        }
        finally
        {
            stop.Cancel();
        }
        var replies = await Task.WhenAll(talking);
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
    }

    private static async Task WaitForAllAsync(List<Chat> clients, int generation)
    {
        using var deadline = new CancellationTokenSource(Timeout);
        while (!clients.All(c => c.HasSeen(generation)))
        {
            foreach (var c in clients) if (c.Failure is { } e) throw new Xunit.Sdk.XunitException($"{c.Session} failed: {e}");
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
