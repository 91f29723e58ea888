using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using Aeterna.Tests.Support;
using Xunit.Abstractions;

namespace Aeterna.Integration.Tests.Relay;

/// <summary>
/// WebSocket connections of a <c>RelayWebSocketHandler</c> endpoint (tests/apps/CounterApp with
/// COUNTER_PROTOCOL=websocket) handed from generation to generation by the real supervisor:
/// twenty ClientWebSocket clients talk without pause through two relays and a third one rolled
/// back during its soak. No client sees a close frame or an error, every message is answered
/// exactly once and in order on its connection by the generation that held it (so each
/// connection's turn count, its session, continues), and the replies name the new process after
/// each relay and the old one again after the rollback.
/// </summary>
public sealed class HandedWebSocketRelayTests(ITestOutputHelper output)
{
    private const int Clients = 20;

    [Fact]
    public async Task Twenty_websockets_cross_two_relays_and_a_rollback_with_every_message_answered_once_in_order()
    {
        using var dir = new TempDirectory();
        int port = FreePort.Get();
        var config = new TestConfig
        {
            Command = ["dotnet", TestApps.CounterApp], Port = port, ListenerName = "counter", Readiness = "auto", ReadyTimeout = "20s", Drain = "5s", Soak = "30s",
            Environment = ["COUNTER_PROTOCOL=websocket"],
        }.WriteTo(dir);
        await using var supervisor = SupervisorProcess.Start(config, output);
        await supervisor.WaitForActiveAsync(1);
        var clients = new List<Talker>();
        for (int i = 0; i < Clients; i++) clients.Add(await Talker.ConnectAsync(port, i));
        using var stop = new CancellationTokenSource();
        var talking = clients.Select(c => c.TalkUntilAsync(stop.Token)).ToList();
        try
        {
            var clock = Stopwatch.StartNew();
            await WaitForAllAsync(clients, 1);
            for (int generation = 2; generation <= 3; generation++)
            {
                Assert.Equal("committed", await supervisor.RelayOverSocketAsync());
                await WaitForAllAsync(clients, generation);
            }
            var relay = supervisor.RelayAsync();
            await supervisor.WaitForLogAsync("relay 3: handover ok");
            await WaitForAllAsync(clients, 4);
            var (rollbackCode, stdout, stderr) = await ToolCli.RunAsync("rollback", "-c", config);
            Assert.True(rollbackCode == 0, stdout + stderr);
            Assert.Contains("handed its state back", stdout);
            var (code, report) = await relay;
            output.WriteLine(report.ToString());
            Assert.Equal("rolled_back", report.GetProperty("outcome").GetString());
            var handed = report.GetProperty("handover").GetProperty("connections");
            Assert.Equal(Clients, handed.GetProperty("handed").GetInt32());
            Assert.Equal(Clients, handed.GetProperty("adopted").GetInt32());
            await WaitForAllAsync(clients, 3, after: 4);
            output.WriteLine($"three relays and a rollback in {clock.Elapsed.TotalSeconds:F1} s");
        }
        finally
        {
            stop.Cancel();
        }
        var replies = await Task.WhenAll(talking);

        var pids = new Dictionary<int, int>();
        long answered = 0;
        foreach (var (client, mine) in clients.Zip(replies))
        {
            Assert.Equal(WebSocketState.Open, client.Socket.State);
            Assert.Null(client.Socket.CloseStatus);
            // Every message answered once, in order, with the connection's own count going on across processes.
            Assert.Equal(mine.Select(r => r.Sent), mine.Select(r => r.Text));
            Assert.Equal(Enumerable.Range(1, mine.Count).Select(i => (long)i), mine.Select(r => r.Turn));
            Assert.Equal(new[] { 1, 2, 3, 4, 3 }, CounterReply.Runs(mine.Select(r => r.Generation)));
            foreach (var reply in mine)
                Assert.Equal(reply.Pid, pids.TryAdd(reply.Generation, reply.Pid) ? reply.Pid : pids[reply.Generation]);
            answered += mine.Count;
        }
        Assert.Equal(4, pids.Values.Distinct().Count()); // a new process each relay; the rollback's is generation 3's own
        // The service's total crossed with its state: it counted every message of every client.
        Assert.Equal(answered, replies.SelectMany(r => r).Max(r => r.Total));
        output.WriteLine($"{Clients} connections, {answered} messages answered, by generation: {string.Join(", ", replies.SelectMany(r => r).GroupBy(r => r.Generation).OrderBy(g => g.Key).Select(g => $"{g.Key}: {g.Count()}"))}");
    }

    private static async Task WaitForAllAsync(List<Talker> clients, int generation, int? after = null)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (!clients.All(c => c.HasSeen(generation, after)))
        {
            foreach (var c in clients) if (c.Failure is { } e) throw new Xunit.Sdk.XunitException($"client {c.Index} failed: {e}");
            await Task.Delay(20, deadline.Token);
        }
    }

    private sealed record Reply(int Generation, int Pid, long Turn, long Total, string Text, string Sent);

    /// <summary>One client: a ClientWebSocket that sends a message, waits for its answer, and sends the next.</summary>
    private sealed class Talker
    {
        private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
        private readonly Lock _lock = new();
        private readonly List<int> _seen = [];

        private Talker(int index) => Index = index;

        public int Index { get; }

        public ClientWebSocket Socket { get; } = new();

        public Exception? Failure { get; private set; }

        public static async Task<Talker> ConnectAsync(int port, int index)
        {
            var talker = new Talker(index);
            // Pings every 300 ms, each to be answered within 2 s (else the client aborts): they cross the relays too.
            talker.Socket.Options.KeepAliveInterval = TimeSpan.FromMilliseconds(300);
            talker.Socket.Options.KeepAliveTimeout = TimeSpan.FromSeconds(2);
            await talker.Socket.ConnectAsync(new Uri($"ws://127.0.0.1:{port}/counter"), default).WaitAsync(Timeout);
            return talker;
        }

        public bool HasSeen(int generation, int? after)
        {
            lock (_lock)
            {
                int from = after is { } a ? _seen.IndexOf(a) : 0;
                return from >= 0 && _seen.Skip(from).Contains(generation);
            }
        }

        public async Task<List<Reply>> TalkUntilAsync(CancellationToken stop)
        {
            var replies = new List<Reply>();
            var buffer = new byte[4096];
            try
            {
                for (int i = 0; !stop.IsCancellationRequested; i++)
                {
                    string sent = $"client {Index} message {i}";
                    await Socket.SendAsync(Encoding.UTF8.GetBytes(sent), WebSocketMessageType.Text, true, default).WaitAsync(Timeout);
                    var result = await Socket.ReceiveAsync(buffer, default).WaitAsync(Timeout);
                    if (result.MessageType != WebSocketMessageType.Text || !result.EndOfMessage)
                        throw new IOException($"expected one text message, got {result.MessageType} (close {result.CloseStatus} {result.CloseStatusDescription})");
                    var parts = Encoding.UTF8.GetString(buffer, 0, result.Count).Split(' ', 5);
                    var reply = new Reply(int.Parse(parts[0]), int.Parse(parts[1]), long.Parse(parts[2]), long.Parse(parts[3]), parts[4], sent);
                    replies.Add(reply);
                    lock (_lock) _seen.Add(reply.Generation);
                    await Task.Delay(5, CancellationToken.None);
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
