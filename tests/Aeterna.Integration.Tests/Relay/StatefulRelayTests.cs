using System.Net.Sockets;
using System.Text;
using Aeterna.Tests.Support;
using Xunit.Abstractions;

namespace Aeterna.Integration.Tests.Relay;

/// <summary>
/// The evidence of the runtime issue: a Kestrel app with in-memory state (Aeterna.Runtime,
/// tests/apps/StatefulApp) relayed under keep-alive load, its state crossing each relay; a 1 GiB
/// RelayMemory crossing intact; and every way a hand-over can fail ending with the old generation
/// serving its state.
/// </summary>
[Collection(LoadTests.Name)]
public sealed class StatefulRelayTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Kestrel_app_with_state_relays_20_times_under_keep_alive_load_and_keeps_every_acknowledged_write()
    {
        using var dir = new TempDirectory();
        int port = FreePort.Get();
        var config = Stateful(port).WriteTo(dir);
        await using var supervisor = SupervisorProcess.Start(config, output);
        await supervisor.WaitForActiveAsync(1);
        using var store = new StoreClient(port);

        var load = WrkLoad.Start($"http://127.0.0.1:{port}/");
        using var stopWriting = new CancellationTokenSource();
        var writer = store.WriteUntilAsync(stopWriting.Token);
        var latencies = new List<double>();
        var pids = new HashSet<int>();
        for (int i = 0; i < 20; i++)
        {
            var (code, report) = await supervisor.RelayAsync("--soak", "0");
            Assert.True(code == 0, $"relay {i + 1} exited {code}: {report}");
            var handover = report.GetProperty("handover");
            latencies.Add(handover.GetProperty("latency_ms").GetDouble());
            pids.Add(report.GetProperty("to_pid").GetInt32());
        }
        await Task.Delay(300);
        stopWriting.Cancel();
        var (acknowledged, failed) = await writer;
        var result = await load.StopAsync();
        output.WriteLine($"wrk: {result}; writes: {acknowledged.Count} acknowledged, {failed.Count} failed; handover latency median {Median(latencies):0.##} ms, max {latencies.Max():0.##} ms");

        Assert.True(result.Clean, $"the load saw failures: {result}");
        Assert.Empty(failed);
        Assert.Equal(20, pids.Count);
        Assert.True(acknowledged.Count > 50, $"only {acknowledged.Count} writes in 20 relays: the writer did not run through them");
        // Every write acknowledged before (or during) a relay is still there after all twenty.
        var missing = new List<string>();
        foreach (string key in acknowledged)
            if (await store.GetAsync(key) != "v" + key[1..]) missing.Add(key);
        Assert.True(missing.Count == 0, $"{missing.Count} acknowledged writes are gone, e.g. {string.Join(", ", missing.Take(5))}");
    }

    [Fact]
    public async Task A_1_GiB_RelayMemory_crosses_a_relay_intact_by_fd()
    {
        using var dir = new TempDirectory();
        int port = FreePort.Get();
        var config = Stateful(port).WriteTo(dir);
        await using var supervisor = SupervisorProcess.Start(config, output);
        await supervisor.WaitForActiveAsync(1);
        using var store = new StoreClient(port);
        const long floats = 1L << 28; // 1 GiB
        var before = await store.FillMemoryAsync(floats, seed: 7);
        Assert.Equal(floats, before.Floats);

        var (code, report) = await supervisor.RelayAsync("--soak", "0");
        Assert.Equal(0, code);
        var handover = report.GetProperty("handover");
        output.WriteLine($"handover: {handover}");
        Assert.Equal(1, handover.GetProperty("regions").GetInt32());
        Assert.Equal(floats * 4, handover.GetProperty("region_bytes").GetInt64());
        Assert.True(handover.GetProperty("state_bytes").GetInt64() < 1024, "the gigabyte must travel by fd, not as serialized bytes");

        var after = await store.MemoryAsync();
        Assert.Equal(report.GetProperty("to_pid").GetInt32(), (await store.WhoAsync()).Pid);
        Assert.Equal(before, after);
    }

    [Fact]
    public Task New_generation_that_cannot_read_the_state_rolls_back_and_the_old_one_serves_on() =>
        FailedHandoverAsync(c => c with { Environment = ["STATEFUL_MODE=reject-import"] }, "cannot read the old one's state");

    [Fact]
    public Task New_generation_that_crashes_mid_import_rolls_back() =>
        FailedHandoverAsync(c => c with { Environment = ["STATEFUL_MODE=crash-in-import"] }, "during the import");

    [Fact]
    public Task New_generation_that_stalls_past_the_timeout_rolls_back() =>
        FailedHandoverAsync(c => c with { Environment = ["STATEFUL_MODE=stall-import=4"] }, "state_handoff.timeout");

    [Fact]
    public Task Old_generation_that_stalls_its_export_past_the_timeout_resumes() =>
        FailedHandoverAsync(c => c, "state_handoff.timeout", oldMode: "stall-export=4");

    [Fact]
    public Task State_over_max_state_size_is_refused_before_it_is_received() =>
        FailedHandoverAsync(c => c with { Handoff = ["timeout: 2s", "max_state_size: 1KiB"] }, "max_state_size", items: 200);

    [Fact]
    public Task A_canary_that_crashes_in_its_soak_rolls_back_to_the_frozen_state() =>
        FailedHandoverAsync(c => c with { Environment = ["STATEFUL_MODE=crash-after=2.5"], Soak = "6s" }, "during the soak", expectedCode: 1,
            rollbackContains: "resumed from the state it froze with");

    [Fact]
    public Task A_canary_whose_health_checks_fail_rolls_back_and_hands_its_state_back() =>
        FailedHandoverAsync(c => c with { Environment = ["STATEFUL_MODE=unhealthy"], Soak = "10s" }, "reported unhealthy 3 times in a row: store: Unhealthy test: unhealthy on purpose",
            expectedCode: 1, rollbackContains: "handed its state back");

    [Fact]
    public Task A_canary_failing_too_many_requests_rolls_back() =>
        FailedHandoverAsync(c => c with { Environment = ["STATEFUL_MODE=flaky"], Soak = "10s" }, "max_error_rate is 10%",
            expectedCode: 1, rollbackContains: "handed its state back",
            duringSoak: async (port, relay) =>
            {
                // Its error rate counts everything it serves, wrk's forwarded requests included:
                // fail requests at a comparable rate until the relay ends.
                using var http = new HttpClient();
                await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
                {
                    while (!relay.IsCompleted) await http.GetAsync($"http://127.0.0.1:{port}/flaky");
                }));
            });

    [Fact]
    public async Task Rollback_during_the_soak_hands_the_state_back_with_the_canarys_writes()
    {
        using var dir = new TempDirectory();
        int port = FreePort.Get();
        var config = (Stateful(port) with { Soak = "30s" }).WriteTo(dir);
        await using var supervisor = SupervisorProcess.Start(config, output);
        var first = await supervisor.WaitForActiveAsync(1);
        int oldPid = first.GetProperty("generations")[0].GetProperty("pid").GetInt32();
        using var store = new StoreClient(port);
        Assert.True(await store.PutAsync("before", "1"));

        var relay = supervisor.RelayAsync();
        await supervisor.WaitForLogAsync("relay 1: handover ok");
        Assert.True(await store.PutAsync("during-soak", "2")); // served by the canary
        Assert.NotEqual(oldPid, (await store.WhoAsync()).Pid);
        var (rollbackCode, stdout, stderr) = await ToolCli.RunAsync("rollback", "-c", config);
        output.WriteLine(stdout + stderr);
        Assert.Equal(0, rollbackCode);
        Assert.Contains("handed its state back", stdout);
        var (code, report) = await relay;
        Assert.Equal(1, code);
        Assert.Equal("rolled_back", report.GetProperty("outcome").GetString());

        // The old generation serves again, with the canary's write: nothing was lost.
        Assert.Equal(oldPid, (await store.WhoAsync()).Pid);
        Assert.Equal("1", await store.GetAsync("before"));
        Assert.Equal("2", await store.GetAsync("during-soak"));
    }

    [Fact]
    public async Task An_idle_keep_alive_connection_of_the_frozen_generation_is_served_by_the_new_one()
    {
        using var dir = new TempDirectory();
        int port = FreePort.Get();
        var config = (Stateful(port) with { Soak = "4s" }).WriteTo(dir);
        await using var supervisor = SupervisorProcess.Start(config, output);
        await supervisor.WaitForActiveAsync(1);
        using var store = new StoreClient(port);
        Assert.True(await store.PutAsync("x", "old"));

        // A client opens a keep-alive connection to generation 1, sends one request, then idles.
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync("127.0.0.1", port);
        var first = await RawGetAsync(client, "/");
        Assert.Contains("\"generation\":\"1\"", first);

        var relay = supervisor.RelayAsync();
        await supervisor.WaitForLogAsync("relay 1: handover ok");
        Assert.True(await store.PutAsync("x", "new")); // a write to generation 2

        // The idle connection still belongs to generation 1, which is frozen: its next request is
        // forwarded and answered from generation 2's state. During the soak the client keeps its
        // connection (if generation 2 failed, generation 1 would resume and serve it itself) ...
        var second = await RawGetAsync(client, "/items/x");
        output.WriteLine(second);
        Assert.StartsWith("HTTP/1.1 200", second);
        Assert.DoesNotContain("Connection: close", second, StringComparison.OrdinalIgnoreCase);
        Assert.EndsWith("new", second);

        // ... and once the relay commits, generation 1 drains: the answer asks the client to move,
        // between requests, so no request meets a closing connection. (The relay's commit ends when
        // generation 1 exits, which with this idle client is at the drain timeout.)
        await supervisor.WaitForLogAsync("generation 1 (pid");
        await supervisor.WaitForLogAsync("SIGTERM: draining");
        var third = await RawGetAsync(client, "/items/x");
        output.WriteLine(third);
        Assert.StartsWith("HTTP/1.1 200", third);
        Assert.Contains("Connection: close", third, StringComparison.OrdinalIgnoreCase);
        Assert.EndsWith("new", third);
        Assert.Equal(0, (await relay).Code);
    }

    [Fact]
    public async Task An_incompatible_state_schema_is_refused_in_preflight_naming_type_and_member()
    {
        using var dir = new TempDirectory();
        int port = FreePort.Get();
        var v1 = Stateful(port);
        string configPath = v1.WriteTo(dir);
        await using var supervisor = SupervisorProcess.Start(configPath, output);
        var status = await supervisor.WaitForActiveAsync(1);
        int pid = status.GetProperty("generations")[0].GetProperty("pid").GetInt32();

        // "v2" of the app: the same build, whose manifest says Profile.Revision became a string.
        string v2 = Path.Combine(dir.Path, "v2");
        CopyDirectory(Path.GetDirectoryName(TestApps.StatefulApp)!, v2);
        string manifest = Path.Combine(v2, "StatefulApp.relay.json");
        File.WriteAllText(manifest, File.ReadAllText(manifest).Replace("\"type\":\"int\",\"wire\":\"int32\"", "\"type\":\"string\",\"wire\":\"string\""));
        File.WriteAllText(configPath, (v1 with { Command = ["dotnet", Path.Combine(v2, "StatefulApp.dll")] }).ToYaml());

        var (code, stdout, stderr) = await ToolCli.RunAsync("relay", "-c", configPath);
        output.WriteLine(stdout + stderr);
        Assert.Equal(3, code);
        Assert.Contains("StatefulApp.Profile.Revision", stdout);
        Assert.Contains("cannot read the running state", stdout);
        var after = await supervisor.StatusAsync();
        Assert.Equal(pid, after.GetProperty("generations")[0].GetProperty("pid").GetInt32());
        Assert.Single(after.GetProperty("generations").EnumerateArray()); // nothing was started
    }

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            string target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    /// <summary>
    /// A stateful service with items under load; the relay with <paramref name="change"/> must fail
    /// with <paramref name="reasonContains"/>, wrk must see no failure, and the old generation
    /// must still serve every item.
    /// </summary>
    private async Task FailedHandoverAsync(Func<TestConfig, TestConfig> change, string reasonContains, string? oldMode = null, int items = 20, int expectedCode = 1,
        string? rollbackContains = null, Func<int, Task, Task>? duringSoak = null)
    {
        using var dir = new TempDirectory();
        int port = FreePort.Get();
        var healthy = Stateful(port) with { Handoff = ["timeout: 1s"] };
        string configPath = (oldMode is null ? healthy : healthy with { Environment = [$"STATEFUL_MODE={oldMode}"] }).WriteTo(dir);
        await using var supervisor = SupervisorProcess.Start(configPath, output);
        var status = await supervisor.WaitForActiveAsync(1);
        int oldPid = status.GetProperty("generations")[0].GetProperty("pid").GetInt32();
        using var store = new StoreClient(port);
        for (int i = 0; i < items; i++) Assert.True(await store.PutAsync($"item{i}", new string('x', 40) + i));

        File.WriteAllText(configPath, change(healthy).ToYaml());
        var load = WrkLoad.Start($"http://127.0.0.1:{port}/", connections: 8);
        await Task.Delay(300);
        var relay = supervisor.RelayAsync();
        if (duringSoak is not null)
        {
            await supervisor.WaitForLogAsync("relay 1: handover ok");
            await duringSoak(port, relay);
        }
        var (code, report) = await relay;
        await Task.Delay(500);
        var result = await load.StopAsync();
        string reason = report.TryGetProperty("reason", out var why) ? why.GetString() ?? "" : "(none: the relay committed)";
        output.WriteLine($"relay exit {code}: {reason}\nwrk: {result}");

        Assert.Equal(expectedCode, code);
        Assert.Equal("rolled_back", report.GetProperty("outcome").GetString());
        Assert.Contains(reasonContains, reason);
        if (rollbackContains is not null) Assert.Contains(rollbackContains, report.GetProperty("rollback").GetString());
        Assert.True(result.Clean, $"the old generation did not serve cleanly through the failed hand-over: {result}");
        var (pid, count) = await store.WhoAsync();
        Assert.Equal(oldPid, pid);
        Assert.Equal(items, count);
        Assert.Equal(new string('x', 40) + (items - 1), await store.GetAsync($"item{items - 1}"));
    }

    private static TestConfig Stateful(int port) =>
        new() { Command = ["dotnet", TestApps.StatefulApp], Port = port, Readiness = "auto", ReadyTimeout = "20s", Drain = "5s" };

    /// <summary>One request on a raw connection; reads the whole response (Content-Length or chunked).</summary>
    private static async Task<string> RawGetAsync(Socket socket, string path)
    {
        await socket.SendAsync(Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: test\r\n\r\n"));
        var buffer = new byte[8192];
        var text = new StringBuilder();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (true)
        {
            int n = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
            if (n == 0) break;
            text.Append(Encoding.ASCII.GetString(buffer, 0, n));
            string s = text.ToString();
            int headerEnd = s.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (headerEnd < 0) continue;
            var headers = s[..headerEnd].Split("\r\n");
            var length = headers.FirstOrDefault(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase));
            if (length is not null && s.Length - headerEnd - 4 >= int.Parse(length.Split(':')[1])) break;
            if (length is null && s.EndsWith("0\r\n\r\n", StringComparison.Ordinal)) break; // chunked
        }
        return text.ToString();
    }

    private static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);
}
