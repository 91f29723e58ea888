using System.Text.Json;
using Aeterna.Tests.Support;
using Xunit.Abstractions;

namespace Aeterna.Integration.Tests.NativeAot;

/// <summary>
/// The template's agent as a NativeAOT binary under the real supervisor: it publishes without a
/// trim or AOT warning, and everything a relay needs works without the JIT: the generated
/// serializers (the conversations), RelayMemory (the embedding cache, by fd), the Kestrel gate and
/// the freeze (a relay under keep-alive load loses and fails nothing), the lame-duck drain of the
/// retired generation, a rollback that hands the canary's state back, and a restart from the last
/// checkpoint after SIGKILL.
/// </summary>
[Collection(NativeBuilds.Name)]
public sealed class NativeAgentTests(NativeAgentBuild build, ITestOutputHelper output) : IClassFixture<NativeAgentBuild>
{
    [Fact]
    public void Publishes_native_without_a_trim_or_AOT_warning()
    {
        output.WriteLine($"dotnet publish -p:PublishAot=true took {build.Took.TotalSeconds:0} s");
        build.AssertPublished();
        Assert.True(build.Warnings.Count == 0, "the NativeAOT publish warned:\n" + string.Join("\n", build.Warnings));
        // A native executable (ELF), no managed assembly of the app beside it, and the state manifest pre-flight reads.
        Assert.Equal([0x7F, (byte)'E', (byte)'L', (byte)'F'], File.ReadAllBytes(build.Binary).Take(4));
        Assert.False(File.Exists(Path.Combine(build.PublishDirectory, "TemplateAgent.dll")));
        using var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(build.PublishDirectory, "TemplateAgent.relay.json")));
        Assert.Contains(manifest.RootElement.GetProperty("types").EnumerateArray(), t => t.GetProperty("name").GetString() == "AeternaAgent.AgentMemory");
    }

    [Fact]
    public async Task The_native_agent_relays_under_load_rolls_back_and_restarts_from_a_checkpoint_with_every_conversation()
    {
        build.AssertPublished();
        using var dir = new TempDirectory();
        int port = FreePort.Get();
        var config = new TestConfig
        {
            Command = [build.Binary],
            Port = port,
            Readiness = "auto",
            ReadyTimeout = "20s",
            Soak = "1s",
            Drain = "3s",
            Handoff = ["enabled: true", "timeout: 10s", "checkpoint_interval: 500ms"],
        }.WriteTo(dir);
        await using var supervisor = SupervisorProcess.Start(config, output);
        await supervisor.WaitForActiveAsync(1, TimeSpan.FromSeconds(30));
        using var agent = new AgentClient(port);
        await agent.WaitHealthyAsync(TimeSpan.FromSeconds(20), () => string.Join('\n', supervisor.Log));
        var histories = await agent.ChatAsync(sessions: 16, messagesEach: 6, prefix: "s");
        var (stats, _) = await agent.StatsAsync();

        // A quiet relay: the conversations (generated serializers) and the cache (two RelayMemory regions, by fd) cross as they are.
        var (code, report) = await supervisor.RelayAsync();
        Assert.True(code == 0, $"relay exited {code}: {report}");
        Assert.Equal("committed", report.GetProperty("outcome").GetString());
        Assert.Equal(2, report.GetProperty("handover").GetProperty("regions").GetInt32());
        Assert.Equal(2, (await agent.AboutAsync()).Generation);
        Assert.Equal(stats, (await agent.StatsAsync()).Text);
        await agent.AssertHistoriesAsync(histories);
        // The retired generation drained (lame duck) and exited by itself on SIGTERM.
        await supervisor.WaitForLogAsync($"generation 1 (pid {report.GetProperty("from_pid").GetInt32()}) exited with code 0");

        // A relay under load: four clients chat on keep-alive connections through the freeze; no request fails, no turn is lost.
        using var stop = new CancellationTokenSource();
        var clients = Enumerable.Range(0, 4).Select(c => Task.Run(async () =>
        {
            using var client = new AgentClient(port);
            var turns = new List<Turn>();
            for (int i = 0; !stop.IsCancellationRequested; i++) turns.AddRange(await client.SendAsync($"live-{c}", $"Live note {i} from client {c}."));
            return (Id: $"live-{c}", Turns: turns);
        })).ToList();
        await Task.Delay(300);
        (code, report) = await supervisor.RelayAsync();
        Assert.True(code == 0, $"relay under load exited {code}: {report}");
        await Task.Delay(300);
        stop.Cancel();
        foreach (var (id, turns) in await Task.WhenAll(clients)) histories[id] = turns;
        output.WriteLine($"{histories.Where(h => h.Key.StartsWith("live-", StringComparison.Ordinal)).Sum(h => h.Value.Count) / 2} messages answered around the relay; handover latency {report.GetProperty("handover").GetProperty("latency_ms").GetDouble():0.###} ms");
        Assert.Equal(3, (await agent.AboutAsync()).Generation);
        await agent.AssertHistoriesAsync(histories);

        // Rollback during the soak: the canary's turn is handed back to generation 3, which serves again.
        int active = (await agent.AboutAsync()).Pid;
        var relay = supervisor.RelayAsync("--soak", "30s");
        await supervisor.WaitForLogAsync("relay 3: handover ok");
        var canaryTurns = await agent.SendAsync("canary", "I was told this during the soak.");
        Assert.NotEqual(active, (await agent.AboutAsync()).Pid);
        var (rollback, rollbackOut, rollbackErr) = await ToolCli.RunAsync("rollback", "-c", config);
        Assert.True(rollback == 0, rollbackOut + rollbackErr);
        (code, report) = await relay;
        Assert.Equal("rolled_back", report.GetProperty("outcome").GetString());
        Assert.Equal(active, (await agent.AboutAsync()).Pid);
        histories["canary"] = [.. canaryTurns];
        await agent.AssertHistoriesAsync(histories);

        // SIGKILL: the agent comes back from its last checkpoint (taken every 500 ms; nothing changed for longer).
        (stats, _) = await agent.StatsAsync();
        await Task.Delay(1500);
        Assert.Equal(0, Posix.Kill(active, Posix.SIGKILL));
        output.WriteLine(await supervisor.WaitForLogAsync("restored the checkpoint taken", TimeSpan.FromSeconds(30)));
        await agent.WaitHealthyAsync(TimeSpan.FromSeconds(20), () => string.Join('\n', supervisor.Log));
        Assert.NotEqual(active, (await agent.AboutAsync()).Pid);
        await agent.AssertHistoriesAsync(histories);
        Assert.Equal(stats, (await agent.StatsAsync()).Text);

        // SIGTERM: the agent drains and exits 0, and so does the supervisor.
        agent.Dispose();
        supervisor.Signal(Posix.SIGTERM);
        Assert.Equal(0, await supervisor.WaitForExitAsync(TimeSpan.FromSeconds(30)));
    }
}
