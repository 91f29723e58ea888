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

        var clients = new List<CounterClient>();
        try
        {
            for (int i = 0; i < Clients; i++) clients.Add(await CounterClient.ConnectAsync(port));
            using var stop = new CancellationTokenSource();
            var talking = clients.Select((c, i) => c.TalkUntilAsync(stop.Token, $"client {i} ")).ToArray();
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
            foreach (var (index, client, mine) in clients.Index().Zip(replies, (c, r) => (c.Index, c.Item, r)))
            {
                Assert.False(client.Closed, $"client {index}'s connection closed");
                // Every line answered once, in order, on one connection whose turn count crossed.
                Assert.Equal(mine.Select(r => r.Sent), mine.Select(r => r.Line));
                Assert.Equal(Enumerable.Range(1, mine.Count).Select(i => (long)i), mine.Select(r => r.Turn));
                Assert.Equal(expectedRuns, CounterReply.Runs(mine.Select(r => r.Generation)));
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

    private static async Task AllSawAsync(List<CounterClient> clients, int generation, int? after = null) =>
        await Task.WhenAll(clients.Select(c => c.WaitForGenerationAsync(generation, after)));
}
