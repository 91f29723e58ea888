using Aeterna.Tests.Support;
using Xunit.Abstractions;

namespace Aeterna.Integration.Tests.Relay;

/// <summary>
/// The evidence of aeterna.asgi (sdk/python): the FastAPI agent sample (samples/fastapi-agent, on
/// uvicorn, with Debian's python3, FastAPI and torch) relays through the real supervisor under wrk
/// keep-alive load and a chatting client, with every conversation and its torch embedding cache
/// in shared memory intact; and a relay whose new generation fails (it exits, is never ready,
/// cannot read the state, dies reading it) leaves the old one serving, its state untouched.
/// </summary>
[Collection(LoadTests.Name)]
public sealed class FastApiAgentTests(ITestOutputHelper output)
{
    private const int Relays = 10;

    private static string Agent => Path.Combine(Repo.Root, "samples", "fastapi-agent", "agent.py");

    private static TestConfig Config(int port) => new()
    {
        Command = [PythonVenv.Interpreter, Agent], Port = port, Readiness = "notify", ReadyTimeout = "60s", Drain = "10s",
        Environment = ["PYTHONUNBUFFERED=1"], Handoff = ["enabled: true", "timeout: 5s"],
    };

    [Fact]
    public async Task FastApi_agent_relays_10_times_under_load_with_every_conversation_and_the_tensor_intact()
    {
        using var dir = new TempDirectory();
        int port = FreePort.Get();
        await using var supervisor = SupervisorProcess.Start(Config(port).WriteTo(dir), output);
        var status = await supervisor.WaitForActiveAsync(1, TimeSpan.FromSeconds(60));
        using var agent = new AgentClient(port);
        var pids = new List<int> { status.GetProperty("generations")[0].GetProperty("pid").GetInt32() };
        var expected = await agent.ChatAsync(sessions: 6, messagesEach: 4, prefix: "before");
        expected["load"] = [.. await agent.SendAsync("load", "the session wrk reads")];

        // Relay 1, nothing written meanwhile: the tensor crosses by fd, byte for byte.
        var (_, before) = await agent.StatsAsync();
        await RelayAsync(supervisor, agent, pids);
        var (_, after) = await agent.StatsAsync();
        Assert.Equal(25, after.GetProperty("cache").GetProperty("embeddings").GetInt32());
        Assert.Equal(Checksum(before), Checksum(after));

        // Relays 2..9 under wrk (keep-alive GETs: a frozen generation forwards them to the next
        // one) while a client chats, one message after another.
        var load = WrkLoad.Start($"http://127.0.0.1:{port}/sessions/load", connections: 16);
        using var stop = new CancellationTokenSource();
        var chatter = Task.Run(() => ChatUntilAsync(agent, expected, stop.Token));
        await Task.Delay(500);
        for (int i = 2; i < Relays; i++)
        {
            await RelayAsync(supervisor, agent, pids);
            Assert.False(load.HasExited, $"wrk ended before relay {i}");
        }
        await Task.Delay(300);
        stop.Cancel();
        var (written, failures) = await chatter;
        var result = await load.StopAsync();
        output.WriteLine($"wrk: {result}; chat: {written} messages acknowledged, {failures.Count} failed");
        Assert.True(result.Clean, $"the load saw failures across the relays: {result}");
        Assert.Empty(failures);
        Assert.True(written >= 16, $"only {written} messages during {Relays - 2} relays: the chat did not run through them");

        // Relay 10, quiet again: the tensor as the chat left it, byte for byte.
        (_, before) = await agent.StatsAsync();
        await RelayAsync(supervisor, agent, pids);
        var (_, final) = await agent.StatsAsync();
        Assert.Equal(Checksum(before), Checksum(final));
        Assert.Equal(Relays + 1, pids.Distinct().Count());

        await agent.AssertHistoriesAsync(expected);
        var cache = final.GetProperty("cache");
        int userTurns = expected.Values.Sum(h => h.Count(t => t.Role == "user"));
        Assert.Equal(Math.Min(userTurns, cache.GetProperty("capacity").GetInt32()), cache.GetProperty("embeddings").GetInt32()); // a full cache keeps its first
        Assert.Equal(0, cache.GetProperty("mismatches").GetInt32()); // every cached vector is its message's embedding
        Assert.Equal(expected.Count, final.GetProperty("sessions").GetInt32());
        var about = await agent.AboutAsync();
        Assert.Equal((Relays + 1, pids[^1]), (about.Generation, about.Pid));
    }

    [Fact]
    public async Task A_new_generation_that_exits_at_start_is_never_ready_cannot_read_the_state_or_dies_reading_it_leaves_the_old_one_serving_with_its_state()
    {
        using var dir = new TempDirectory();
        int port = FreePort.Get();
        var config = Config(port);
        string path = config.WriteTo(dir);
        await using var supervisor = SupervisorProcess.Start(path, output);
        await supervisor.WaitForActiveAsync(1, TimeSpan.FromSeconds(60));
        using var agent = new AgentClient(port);
        var expected = await agent.ChatAsync(sessions: 3, messagesEach: 3, prefix: "kept");
        var (stats, _) = await agent.StatsAsync();
        var first = await agent.AboutAsync();

        var load = WrkLoad.Start($"http://127.0.0.1:{port}/healthz", connections: 8);
        string faulty = Path.Combine(Repo.Root, "tests", "apps", "python_faulty_importer.py");
        foreach (var (broken, environment, readyTimeout, exitCode, outcome, reason) in new[]
                 {
                     (new[] { PythonVenv.Interpreter, "-c", "import sys; sys.exit(3)" }, "", "60s", 4, "not_ready", "exited with code 3 before it was ready"),
                     (new[] { PythonVenv.Interpreter, "-c", "import time; time.sleep(60)" }, "", "2s", 4, "not_ready", "was not ready within 2"),
                     // The agent itself, with its state reader failing on what the old one exported, or dying while it reads.
                     (new[] { PythonVenv.Interpreter, faulty, Agent }, "AGENT_FAULT=unreadable", "60s", 1, "rolled_back", "cannot read the context"),
                     (new[] { PythonVenv.Interpreter, faulty, Agent }, "AGENT_FAULT=crash", "60s", 1, "rolled_back", "exited with code 70 during the import"),
                 })
        {
            var brokenConfig = config with { Command = broken, ReadyTimeout = readyTimeout, Environment = [.. config.Environment, .. environment.Length > 0 ? [environment] : Array.Empty<string>()] };
            File.WriteAllText(path, brokenConfig.ToYaml());
            var (code, report) = await supervisor.RelayAsync();
            output.WriteLine(report.ToString());
            Assert.Equal(exitCode, code);
            Assert.Equal(outcome, report.GetProperty("outcome").GetString());
            Assert.Contains(reason, report.ToString(), StringComparison.OrdinalIgnoreCase);
            Assert.Equal(first, await agent.AboutAsync());
        }
        await Task.Delay(300);
        var result = await load.StopAsync();
        output.WriteLine($"wrk: {result}");
        Assert.True(result.Clean, $"the old generation did not serve cleanly through the failed relays: {result}");
        Assert.Equal(stats, (await agent.StatsAsync()).Text);
        await agent.AssertHistoriesAsync(expected);
    }

    private static string Checksum(System.Text.Json.JsonElement stats) => stats.GetProperty("cache").GetProperty("checksum").GetString()!;

    /// <summary>One relay with --soak 0; it must commit, and the API must answer from a new pid.</summary>
    private async Task RelayAsync(SupervisorProcess supervisor, AgentClient agent, List<int> pids)
    {
        var (code, report) = await supervisor.RelayAsync("--soak", "0");
        Assert.True(code == 0, $"relay {pids.Count} exited {code}: {report}");
        Assert.Equal("committed", report.GetProperty("outcome").GetString());
        var handover = report.GetProperty("handover");
        output.WriteLine($"relay {pids.Count}: handover {handover}");
        Assert.Equal(1, handover.GetProperty("regions").GetInt32());
        int pid = report.GetProperty("to_pid").GetInt32();
        Assert.DoesNotContain(pid, pids);
        pids.Add(pid);
        Assert.Equal(pid, (await agent.AboutAsync()).Pid);
    }

    /// <summary>Chats in the sessions in turn until stopped; returns how many were acknowledged and what failed.</summary>
    private static async Task<(int Written, List<string> Failures)> ChatUntilAsync(AgentClient agent, Dictionary<string, List<Turn>> expected, CancellationToken stop)
    {
        int written = 0;
        var failures = new List<string>();
        for (int i = 0; !stop.IsCancellationRequested; i++)
        {
            string session = $"before-{i % 6}";
            string text = $"written during the relays, number {i}";
            try
            {
                var turns = await agent.SendAsync(session, text);
                expected[session].AddRange(turns);
                written++;
                await Task.Delay(5, CancellationToken.None); // a person's pace, roughly: wrk is the load
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or Xunit.Sdk.XunitException)
            {
                failures.Add($"{session} #{i}: {e.Message}");
            }
        }
        return (written, failures);
    }
}
