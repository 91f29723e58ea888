using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Aeterna.Tests.Support;
using Xunit.Abstractions;

namespace Aeterna.Integration.Tests.Relay;

/// <summary>
/// Raw TCP connections handed from generation to generation of a Python service (the aeterna
/// package's RawEndpoint; tests/apps/python_counter_app.py, a line counter on the listener
/// "counter") by the real supervisor: 20 clients talk without pause through 3 relays and a
/// rollback with hand-back during a soak; no connection ever closes, every line is answered
/// exactly once and in order, by the pid the relay report names, with the connection's session
/// (its turn count) and the service's state (the total) carried each time.
/// </summary>
public sealed class PythonHandedConnectionTests(ITestOutputHelper output)
{
    private const int Clients = 20;
    private const int CommittedRelays = 3;

    private static string App => Path.Combine(Repo.Root, "tests", "apps", "python_counter_app.py");

    [Fact]
    public async Task Twenty_raw_connections_cross_3_relays_and_a_rollback_with_every_line_answered_once_by_the_named_pid()
    {
        using var dir = new TempDirectory();
        int port = FreePort.Get();
        var config = new TestConfig
        {
            Command = [PythonVenv.Interpreter, App], Port = port, ListenerName = "counter", Readiness = "notify",
            ReadyTimeout = "20s", Drain = "5s", Soak = "30s", Environment = ["PYTHONUNBUFFERED=1"],
        }.WriteTo(dir);
        await using var supervisor = SupervisorProcess.Start(config, output);
        var status = await supervisor.WaitForActiveAsync(1);
        var pids = new Dictionary<int, int> { [1] = status.GetProperty("generations")[0].GetProperty("pid").GetInt32() };

        var clients = new List<LineClient>();
        try
        {
            for (int i = 0; i < Clients; i++) clients.Add(await LineClient.ConnectAsync(port, i));
            using var stop = new CancellationTokenSource();
            var talking = clients.Select(c => c.TalkUntilAsync(stop.Token)).ToArray();
            await AllSawAsync(clients, 1);

            // Relays that commit: every connection goes to the next generation, and each waits
            // until every client has been answered by it before the next relay.
            for (int relay = 1; relay <= CommittedRelays; relay++)
            {
                var (code, report) = await supervisor.RelayAsync("--soak", "0");
                Assert.True(code == 0, $"relay {relay} exited {code}: {report}");
                Assert.Equal("committed", report.GetProperty("outcome").GetString());
                AssertAllAdopted(report);
                pids[relay + 1] = report.GetProperty("to_pid").GetInt32();
                await AllSawAsync(clients, relay + 1);
            }

            // A relay rolled back during its soak: the canary hands the connections back.
            int canary = CommittedRelays + 2, active = CommittedRelays + 1;
            var rolling = supervisor.RelayAsync();
            await supervisor.WaitForLogAsync($"relay {CommittedRelays + 1}: handover ok");
            await AllSawAsync(clients, canary);
            var (rollbackCode, stdout, stderr) = await ToolCli.RunAsync("rollback", "-c", config);
            Assert.True(rollbackCode == 0, stdout + stderr);
            Assert.Contains("handed its state back", stdout);
            var (rolledCode, rolled) = await rolling;
            output.WriteLine(rolled.ToString());
            Assert.Equal(1, rolledCode);
            Assert.Equal("rolled_back", rolled.GetProperty("outcome").GetString());
            AssertAllAdopted(rolled);
            pids[canary] = rolled.GetProperty("to_pid").GetInt32();
            await AllSawAsync(clients, active, after: canary);
            stop.Cancel();
            var replies = await Task.WhenAll(talking);

            int[] expectedRuns = [.. Enumerable.Range(1, canary), active];
            foreach (var (client, mine) in clients.Zip(replies))
            {
                Assert.False(client.Closed, $"client {client.Index}'s connection closed");
                // Every line answered once, in order, on one connection whose turn count crossed.
                Assert.Equal(mine.Select(r => r.Sent), mine.Select(r => r.Line));
                Assert.Equal(Enumerable.Range(1, mine.Count).Select(i => (long)i), mine.Select(r => r.Turn));
                Assert.Equal(expectedRuns, Runs(mine.Select(r => r.Generation)));
                // Each generation's replies come from the pid the supervisor reported for it.
                foreach (var r in mine) Assert.Equal(pids[r.Generation], r.Pid);
            }
            // The total crossed with the state each way: every line of every client counted exactly once.
            var totals = replies.SelectMany(r => r).Select(r => r.Total).Order().ToList();
            Assert.Equal(Enumerable.Range(1, totals.Count).Select(i => (long)i), totals);
            Assert.Equal(pids.Count, pids.Values.Distinct().Count());
            output.WriteLine($"{totals.Count} lines over {Clients} connections; per generation: " +
                string.Join(", ", replies.SelectMany(r => r).GroupBy(r => r.Generation).OrderBy(g => g.Key).Select(g => $"{g.Key}: {g.Count()}")));
        }
        finally
        {
            foreach (var client in clients) client.Dispose();
        }
    }

    private static void AssertAllAdopted(JsonElement report)
    {
        var handed = report.GetProperty("handover").GetProperty("connections");
        Assert.Equal(Clients, handed.GetProperty("handed").GetInt32());
        Assert.Equal(Clients, handed.GetProperty("adopted").GetInt32());
    }

    private static async Task AllSawAsync(List<LineClient> clients, int generation, int? after = null) =>
        await Task.WhenAll(clients.Select(c => c.WaitForGenerationAsync(generation, after)));

    /// <summary>The generation's number in each run of equal ones, e.g. 1 1 2 2 2 1 → 1 2 1.</summary>
    private static List<int> Runs(IEnumerable<int> values)
    {
        var runs = new List<int>();
        foreach (int v in values)
            if (runs.Count == 0 || runs[^1] != v) runs.Add(v);
        return runs;
    }

    private sealed record Reply(int Generation, int Pid, long Turn, long Total, string Line, string Sent);

    /// <summary>One TCP connection to the counter: a line out, its answer in, again and again.</summary>
    private sealed class LineClient : IDisposable
    {
        private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
        private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        private readonly byte[] _buffer = new byte[4096];
        private readonly StringBuilder _pending = new();
        private readonly Lock _lock = new();
        private readonly List<int> _seen = [];

        private LineClient(int index) => Index = index;

        public int Index { get; }

        public bool Closed { get; private set; }

        public static async Task<LineClient> ConnectAsync(int port, int index)
        {
            var client = new LineClient(index);
            await client._socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port)).WaitAsync(Timeout);
            return client;
        }

        /// <summary>Asks line after line, 2 ms apart, until <paramref name="stop"/>.</summary>
        public async Task<List<Reply>> TalkUntilAsync(CancellationToken stop)
        {
            var replies = new List<Reply>();
            for (int i = 0; !stop.IsCancellationRequested; i++)
            {
                string sent = $"client {Index} line {i}";
                await _socket.SendAsync(Encoding.UTF8.GetBytes(sent + "\n")).WaitAsync(Timeout);
                string answer = await ReadLineAsync() ?? throw new IOException($"client {Index}: the connection closed before '{sent}' was answered");
                var parts = answer.Split(' ', 5);
                var reply = new Reply(int.Parse(parts[0]), int.Parse(parts[1]), long.Parse(parts[2]), long.Parse(parts[3]), parts[4], sent);
                replies.Add(reply);
                lock (_lock) _seen.Add(reply.Generation);
                await Task.Delay(2, CancellationToken.None);
            }
            return replies;
        }

        /// <summary>Waits until a reply came from <paramref name="generation"/> (after one from <paramref name="after"/>, if given).</summary>
        public async Task WaitForGenerationAsync(int generation, int? after = null)
        {
            using var deadline = new CancellationTokenSource(Timeout);
            while (true)
            {
                lock (_lock)
                {
                    int from = after is { } a ? _seen.IndexOf(a) : 0;
                    if (from >= 0 && _seen.Skip(from).Contains(generation)) return;
                }
                await Task.Delay(10, deadline.Token);
            }
        }

        private async Task<string?> ReadLineAsync()
        {
            while (true)
            {
                string text = _pending.ToString();
                int newline = text.IndexOf('\n');
                if (newline >= 0)
                {
                    _pending.Remove(0, newline + 1);
                    return text[..newline];
                }
                int n = await _socket.ReceiveAsync(_buffer).WaitAsync(Timeout);
                if (n == 0)
                {
                    Closed = true;
                    return null;
                }
                _pending.Append(Encoding.UTF8.GetString(_buffer, 0, n));
            }
        }

        public void Dispose() => _socket.Dispose();
    }
}
