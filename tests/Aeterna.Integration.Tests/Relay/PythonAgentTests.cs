using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Aeterna.Tests.Support;
using Xunit.Abstractions;

namespace Aeterna.Integration.Tests.Relay;

/// <summary>
/// The evidence of the Python client (the aeterna package, sdk/python; its pytest suite runs in
/// test.sh): the Python agent sample (samples/python-agent) relays under load through the real supervisor
/// with every session's history and its SharedBuffer embedding cache intact.
/// </summary>
[Collection(LoadTests.Name)]
public sealed partial class PythonAgentTests(ITestOutputHelper output)
{
    private const int Relays = 5;
    private const long EmbeddingBytes = 8192 * 32 * 4; // samples/python-agent/agent.py: CAPACITY * DIM * 4

    private static string Agent => Path.Combine(Repo.Root, "samples", "python-agent", "agent.py");

    private static string Python => PythonVenv.Interpreter;

    [Fact]
    public async Task Python_agent_relays_5_times_under_load_with_every_session_and_the_embedding_cache_intact()
    {
        using var dir = new TempDirectory();
        int port = FreePort.Get();
        var config = new TestConfig
        {
            Command = [Python, Agent], Port = port, Readiness = "notify", ReadyTimeout = "20s", Drain = "10s",
            Environment = ["PYTHONUNBUFFERED=1"], Handoff = ["enabled: true", "timeout: 5s"],
        }.WriteTo(dir);
        await using var supervisor = SupervisorProcess.Start(config, output);
        var status = await supervisor.WaitForActiveAsync(1);
        using var agent = new AgentClient(port);
        var pids = new List<int> { status.GetProperty("generations")[0].GetProperty("pid").GetInt32() };

        // Sessions with history, before any relay.
        var expected = new Dictionary<string, List<(string Role, string Text)>>();
        for (int s = 0; s < 8; s++)
            for (int m = 0; m < 3; m++)
                await agent.PostAsync(expected, $"s{s}", $"session {s} message {m} about topic {(s * 7 + m) % 5}");
        await agent.PostAsync(expected, "load", "the session wrk reads");

        // Relay 1 without writes: the embedding cache crosses by fd, byte for byte.
        var before = await agent.EmbeddingsAsync();
        Assert.Equal(25, before.GetProperty("slots_used").GetInt32());
        var report = await RelayAsync(supervisor, agent, pids);
        var after = await agent.EmbeddingsAsync();
        Assert.Equal(before.GetProperty("sha256").GetString(), after.GetProperty("sha256").GetString());
        Assert.Equal(0, after.GetProperty("mismatches").GetInt32());
        var handover = report.GetProperty("handover");
        output.WriteLine($"relay 1 handover: {handover}");
        Assert.Equal(1, handover.GetProperty("regions").GetInt32());
        Assert.Equal(EmbeddingBytes, handover.GetProperty("region_bytes").GetInt64());
        Assert.True(handover.GetProperty("state_bytes").GetInt64() < EmbeddingBytes / 4, "the embeddings must travel by fd, not serialized");

        // Relays 2..5 under wrk (keep-alive GETs of a session: a frozen generation forwards them)
        // while a writer appends messages one after another on a keep-alive connection.
        var load = WrkLoad.Start($"http://127.0.0.1:{port}/sessions/load", connections: 16);
        using var stopWriting = new CancellationTokenSource();
        var writer = Task.Run(() => agent.WriteUntilAsync(expected, stopWriting.Token));
        await Task.Delay(500);
        var latencies = new List<double> { handover.GetProperty("latency_ms").GetDouble() };
        for (int i = 1; i < Relays; i++)
        {
            report = await RelayAsync(supervisor, agent, pids);
            latencies.Add(report.GetProperty("handover").GetProperty("latency_ms").GetDouble());
            Assert.False(load.HasExited, $"wrk ended before relay {i + 1}");
        }
        await Task.Delay(300);
        stopWriting.Cancel();
        var (written, failures) = await writer;
        var result = await load.StopAsync();
        output.WriteLine($"wrk: {result}; writer: {written} messages acknowledged, {failures.Count} failed; handover latency ms: {string.Join(", ", latencies)}");

        Assert.True(result.Clean, $"the load saw failures across {Relays} relays: {result}");
        Assert.Empty(failures);
        Assert.True(written >= 20, $"only {written} writes during {Relays - 1} relays: the writer did not run through them");
        Assert.Equal(Relays + 1, pids.Distinct().Count());

        // Every acknowledged turn of every session is there, in order, and nothing else.
        foreach (var (id, turns) in expected)
        {
            var messages = await agent.SessionAsync(id);
            Assert.Equal(turns.Select(t => $"{t.Role}: {t.Text}"), messages.Select(t => $"{t.Role}: {t.Text}"));
        }
        var final = await agent.EmbeddingsAsync();
        Assert.Equal(expected.Values.Sum(t => t.Count(x => x.Role == "user")), final.GetProperty("slots_used").GetInt32());
        Assert.Equal(0, final.GetProperty("mismatches").GetInt32());
        Assert.Equal(404, (int)(await agent.GetAsync("/sessions/never-created")).StatusCode);
        var about = await agent.AboutAsync();
        Assert.Equal(pids[^1], about.GetProperty("pid").GetInt32());
        Assert.Equal(Relays + 1, about.GetProperty("generation").GetInt32());
    }

    /// <summary>One relay with --soak 0; it must commit, and a fresh connection must reach the new pid.</summary>
    private async Task<JsonElement> RelayAsync(SupervisorProcess supervisor, AgentClient agent, List<int> pids)
    {
        var (code, report) = await supervisor.RelayAsync("--soak", "0");
        Assert.True(code == 0, $"relay {pids.Count} exited {code}: {report}");
        Assert.Equal("committed", report.GetProperty("outcome").GetString());
        int pid = report.GetProperty("to_pid").GetInt32();
        Assert.DoesNotContain(pid, pids);
        pids.Add(pid);
        Assert.Equal(pid, (await agent.AboutAsync()).GetProperty("pid").GetInt32());
        return report;
    }

    /// <summary>HTTP client of the Python agent sample.</summary>
    private sealed class AgentClient(int port) : IDisposable
    {
        private readonly HttpClient _http = new() { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = TimeSpan.FromSeconds(30) };

        /// <summary>A client whose every request opens a new connection: it reaches the active generation.</summary>
        private readonly HttpClient _fresh = new() { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = TimeSpan.FromSeconds(30), DefaultRequestHeaders = { ConnectionClose = true } };

        /// <summary>Posts a message and records the two turns the agent acknowledged.</summary>
        public async Task PostAsync(Dictionary<string, List<(string Role, string Text)>> expected, string session, string text)
        {
            var body = new StringContent(JsonSerializer.Serialize(new { text }), Encoding.UTF8, "application/json");
            using var response = await _http.PostAsync($"sessions/{session}/messages", body);
            string json = await response.Content.ReadAsStringAsync();
            if (response.StatusCode != HttpStatusCode.OK) throw new HttpRequestException($"POST {session}: {(int)response.StatusCode} {json}");
            var root = JsonDocument.Parse(json).RootElement;
            if (root.GetProperty("id").GetString() != session) throw new HttpRequestException($"POST {session} answered for {root.GetProperty("id")}");
            var turns = root.GetProperty("messages").EnumerateArray().Select(m => (m.GetProperty("role").GetString()!, m.GetProperty("text").GetString()!)).ToList();
            if (turns.Count != 2 || turns[0] != ("user", text) || turns[1].Item1 != "agent") throw new HttpRequestException($"POST {session}: unexpected turns {json}");
            if (!expected.TryGetValue(session, out var list)) expected[session] = list = [];
            list.AddRange(turns);
        }

        /// <summary>Appends messages to the sessions in turn until cancelled; returns how many were acknowledged and what failed.</summary>
        public async Task<(int Written, List<string> Failures)> WriteUntilAsync(Dictionary<string, List<(string Role, string Text)>> expected, CancellationToken stop)
        {
            int written = 0;
            var failures = new List<string>();
            for (int i = 0; !stop.IsCancellationRequested; i++)
            {
                string session = $"s{i % 8}";
                try
                {
                    await PostAsync(expected, session, $"written during the relays, number {i}");
                    written++;
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                {
                    failures.Add($"{session} #{i}: {e.Message}");
                }
            }
            return (written, failures);
        }

        public async Task<List<(string Role, string Text)>> SessionAsync(string id)
        {
            var root = JsonDocument.Parse(await _fresh.GetStringAsync($"sessions/{id}")).RootElement;
            Assert.Equal(id, root.GetProperty("id").GetString());
            return root.GetProperty("messages").EnumerateArray().Select(m => (m.GetProperty("role").GetString()!, m.GetProperty("text").GetString()!)).ToList();
        }

        public async Task<JsonElement> EmbeddingsAsync() => JsonDocument.Parse(await _fresh.GetStringAsync("embeddings")).RootElement;

        public async Task<JsonElement> AboutAsync() => JsonDocument.Parse(await _fresh.GetStringAsync("about")).RootElement;

        public Task<HttpResponseMessage> GetAsync(string path) => _fresh.GetAsync(path.TrimStart('/'));

        public void Dispose()
        {
            _http.Dispose();
            _fresh.Dispose();
        }
    }
}
