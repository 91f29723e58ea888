using Aeterna.Tests.Support;
using Xunit.Abstractions;

namespace Aeterna.Integration.Tests.Relay;

/// <summary>
/// Every way a relay can fail ends in a clear outcome and reason, with the old generation serving
/// throughout: a load client runs through each and must see no failure, and the same pid answers
/// before and after.
/// </summary>
[Collection(LoadTests.Name)]
public sealed class RelayFailureTests(ITestOutputHelper output)
{
    [Fact]
    public Task New_generation_that_exits_at_once_is_not_ready() =>
        FailedRelayAsync(c => c with { Command = [.. c.Command, "--mode", "exit-at-once"] },
            expectedCode: 4, expectedOutcome: "not_ready", reasonContains: "exited with code 3 before it was ready");

    [Fact]
    public Task New_generation_that_never_becomes_ready_times_out() =>
        FailedRelayAsync(c => c with { Command = [.. c.Command, "--mode", "never-ready"], ReadyTimeout = "2s" },
            expectedCode: 4, expectedOutcome: "not_ready", reasonContains: "was not ready within 2");

    [Fact]
    public Task Invalid_config_refuses_the_relay_and_changes_nothing() =>
        FailedRelayAsync(_ => null, expectedCode: 3, expectedOutcome: null, reasonContains: "error");

    [Fact]
    public Task Failing_preflight_refuses_the_relay_with_its_output() =>
        FailedRelayAsync(c => c with { Preflight = [["sh", "-c", "echo disk is full; exit 9"]] },
            expectedCode: 3, expectedOutcome: "refused", reasonContains: "exited with code 9", outputContains: "disk is full");

    [Fact]
    public Task Missing_program_refuses_the_relay_in_preflight() =>
        FailedRelayAsync(c => c with { Command = ["/nonexistent/server"] },
            expectedCode: 3, expectedOutcome: "refused", reasonContains: "/nonexistent/server");

    [Fact]
    public Task Crash_during_soak_rolls_back() =>
        FailedRelayAsync(c => c with { Command = [.. c.Command, "--mode", "crash-after=0.5"], Soak = "3s" },
            expectedCode: 1, expectedOutcome: "rolled_back", reasonContains: "during the soak");

    [Fact]
    public Task Missed_watchdog_during_soak_rolls_back() =>
        FailedRelayAsync(c => c with { Command = [.. c.Command, "--mode", "stop-watchdog-after=0.5"], Watchdog = "500ms", Soak = "4s" },
            expectedCode: 1, expectedOutcome: "rolled_back", reasonContains: "watchdog");

    [Fact]
    public async Task A_canary_whose_per_generation_probe_fails_rolls_back()
    {
        // The probe reaches each generation's own health socket, never the shared listener.
        using var healthDir = new TempDirectory();
        string[] probe = ["python3", "-c", $"import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect('{healthDir.Path}/gen-${{AETERNA_GENERATION}}.sock'); s.sendall(b'GET /healthz HTTP/1.0\\r\\n\\r\\n'); sys.exit(0 if b' 200 ' in s.recv(100) else 1)"];
        await FailedRelayAsync(c => c with { Command = [.. c.Command, "--health-socket", healthDir.Path, "--mode", "unhealthy"], Soak = "10s", Probe = probe },
            expectedCode: 1, expectedOutcome: "rolled_back", reasonContains: "the probe of generation 2 failed 3 times in a row",
            healthy: c => c with { Command = [.. c.Command, "--health-socket", healthDir.Path], Probe = probe });
    }

    /// <summary>
    /// Starts a healthy service under load, rewrites the config with <paramref name="change"/>
    /// (null writes an invalid file), relays, and checks the outcome and that nothing was disturbed.
    /// </summary>
    private async Task FailedRelayAsync(Func<TestConfig, TestConfig?> change, int expectedCode, string? expectedOutcome, string reasonContains, string? outputContains = null,
        Func<TestConfig, TestConfig>? healthy = null)
    {
        using var dir = new TempDirectory();
        int port = FreePort.Get();
        var baseline = new TestConfig { Command = ["python3", TestApps.PythonServer], Port = port, Watchdog = "2s", Drain = "5s" };
        var healthyConfig = healthy?.Invoke(baseline) ?? baseline;
        string configPath = healthyConfig.WriteTo(dir);
        await using var supervisor = SupervisorProcess.Start(configPath, output);
        await supervisor.WaitForActiveAsync(1);
        string url = $"http://127.0.0.1:{port}/";
        int before = await RelayUnderLoadTests.ServingPidAsync(url);

        var changed = change(healthyConfig);
        File.WriteAllText(configPath, changed?.ToYaml() ?? "service:\n  command: [\"python3\"]\n  bogus_key: 1\n");
        var load = WrkLoad.Start(url, connections: 8);
        await Task.Delay(300);

        var (code, stdout, stderr) = await ToolCli.RunAsync("relay", "-c", configPath);
        output.WriteLine(stdout + stderr);
        Assert.Equal(expectedCode, code);
        Assert.Contains(reasonContains, stdout + stderr, StringComparison.OrdinalIgnoreCase);
        if (expectedOutcome is not null)
        {
            var status = await supervisor.StatusAsync();
            var last = status.GetProperty("relays").EnumerateArray().Last();
            Assert.Equal(expectedOutcome, last.GetProperty("outcome").GetString());
            if (outputContains is not null)
                Assert.Contains(last.GetProperty("preflight").EnumerateArray(), p => p.GetProperty("output").GetString()!.Contains(outputContains));
        }

        await Task.Delay(500); // the old generation keeps serving after the failed relay, too
        var result = await load.StopAsync();
        output.WriteLine($"wrk: {result}");
        Assert.True(result.Clean, $"the old generation did not serve cleanly through the failed relay: {result}");
        Assert.Equal(before, await RelayUnderLoadTests.ServingPidAsync(url));
        var after = await supervisor.StatusAsync();
        Assert.Equal(1, after.GetProperty("active_generation").GetInt32());
        Assert.Single(after.GetProperty("generations").EnumerateArray()); // the failed generation is gone
    }
}
