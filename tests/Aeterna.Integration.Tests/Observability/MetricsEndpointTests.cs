using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.RegularExpressions;
using Aeterna.Tests.Support;
using Xunit.Abstractions;

namespace Aeterna.Integration.Tests.Observability;

/// <summary>
/// observability.metrics_port on a real supervisor: /metrics checked by promtool and followed
/// through relays of every outcome, a crash and a stateful hand-over; /healthz, /readyz and /status
/// while starting, relaying and restarting; a port that is taken.
/// </summary>
public sealed class MetricsEndpointTests(ITestOutputHelper output)
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    internal static TestConfig Python(int port, int metricsPort, string mode = "normal", string soak = "0s") => new()
    {
        Command = ["python3", TestApps.PythonServer, "--mode", mode],
        Port = port,
        Soak = soak,
        Drain = "5s",
        Observability = [$"metrics_port: \"127.0.0.1:{metricsPort}\""],
    };

    internal static async Task<string> MetricsAsync(int metricsPort)
    {
        using var response = await Http.GetAsync($"http://127.0.0.1:{metricsPort}/metrics");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", response.Content.Headers.ContentType!.ToString());
        return await response.Content.ReadAsStringAsync();
    }

    /// <summary>The value of the sample written exactly as <paramref name="series"/> (name and labels).</summary>
    internal static double Value(string metrics, string series)
    {
        var match = Regex.Match(metrics, "^" + Regex.Escape(series) + " (\\S+)$", RegexOptions.Multiline);
        Assert.True(match.Success, $"no sample '{series}' in:\n{metrics}");
        return double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    private static async Task<(HttpStatusCode Status, string Body)> GetAsync(int metricsPort, string path)
    {
        using var response = await Http.GetAsync($"http://127.0.0.1:{metricsPort}{path}");
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Metrics_pass_promtool_and_count_relays_of_every_outcome_with_their_phases()
    {
        using var dir = new TempDirectory();
        int port = FreePort.Get(), metricsPort = FreePort.Get();
        string config = Python(port, metricsPort).WriteTo(dir);
        await using var supervisor = SupervisorProcess.Start(config, output);
        await supervisor.WaitForActiveAsync(1);

        string m = await MetricsAsync(metricsPort);
        await Promtool.AssertValidAsync(m);
        Assert.Equal(1, Value(m, "aeterna_active_generation"));
        Assert.Equal(1, Value(m, "aeterna_child_up"));
        Assert.Equal(1, Value(m, "aeterna_ready"));
        Assert.Equal(0, Value(m, "aeterna_relays_total{outcome=\"committed\"}"));
        Assert.Equal(1, Value(m, "aeterna_supervisor_info{service=\"test\",version=\"0.1.0\"}"));

        // committed
        var (code, _) = await supervisor.RelayAsync("--soak", "0");
        Assert.Equal(0, code);
        // not_ready: the new version exits before it is ready
        Python(port, metricsPort, mode: "exit-at-once").WriteTo(dir);
        (code, _) = await supervisor.RelayAsync();
        Assert.Equal(4, code);
        // rolled_back: the new version crashes during the soak
        Python(port, metricsPort, mode: "crash-after=0.3", soak: "5s").WriteTo(dir);
        (code, _) = await supervisor.RelayAsync();
        Assert.Equal(1, code);
        // refused: the config is invalid
        File.AppendAllText(config, "unknown_key: 1\n");
        (code, _) = await supervisor.RelayAsync();
        Assert.Equal(3, code);

        m = await MetricsAsync(metricsPort);
        await Promtool.AssertValidAsync(m);
        foreach (string outcome in new[] { "committed", "not_ready", "rolled_back", "refused" })
        {
            Assert.Equal(1, Value(m, $"aeterna_relays_total{{outcome=\"{outcome}\"}}"));
            Assert.Equal(1, Value(m, $"aeterna_relay_duration_seconds_count{{outcome=\"{outcome}\"}}"));
            Assert.Equal(1, Value(m, $"aeterna_relay_duration_seconds_bucket{{outcome=\"{outcome}\",le=\"+Inf\"}}"));
        }
        Assert.True(Value(m, "aeterna_relay_duration_seconds_sum{outcome=\"rolled_back\"}") > 0.3);
        Assert.Equal(4, Value(m, "aeterna_relay_phase_duration_seconds_count{phase=\"config\"}")); // the refused relay failed in it
        Assert.Equal(3, Value(m, "aeterna_relay_phase_duration_seconds_count{phase=\"ready\"}"));
        Assert.Equal(2, Value(m, "aeterna_relay_phase_duration_seconds_count{phase=\"soak\"}"));
        Assert.Equal(1, Value(m, "aeterna_relay_phase_duration_seconds_count{phase=\"commit\"}"));
        Assert.Equal(0, Value(m, "aeterna_handover_latency_seconds_count")); // stateless: nothing handed over
        Assert.Equal(2, Value(m, "aeterna_active_generation"));
        Assert.Equal(0, Value(m, "aeterna_restarts_total"));
        Assert.Equal(0, Value(m, "aeterna_relay_running"));
    }

    [Fact]
    public async Task Probes_while_starting_relaying_and_restarting_after_a_crash()
    {
        using var dir = new TempDirectory();
        int port = FreePort.Get(), metricsPort = FreePort.Get();

        // Starting, never ready: not ready with the reason; alive all the same.
        string config = (Python(port, metricsPort, mode: "never-ready") with { ReadyTimeout = "30s" }).WriteTo(dir);
        await using (var starting = SupervisorProcess.Start(config, output))
        {
            await starting.WaitForLogAsync("generation 1 started");
            var (status, body) = await GetAsync(metricsPort, "/readyz");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
            Assert.Matches(@"^not ready: no active generation: generation 1 \(pid \d+\) is starting and not ready yet\n$", body);
            (status, body) = await GetAsync(metricsPort, "/healthz");
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.StartsWith("ok: ", body);
            string m = await MetricsAsync(metricsPort);
            await Promtool.AssertValidAsync(m);
            Assert.Equal(0, Value(m, "aeterna_active_generation"));
            Assert.Equal(0, Value(m, "aeterna_child_up"));
            Assert.Equal(0, Value(m, "aeterna_ready"));
            Assert.Equal(1, Value(m, "aeterna_generations{state=\"starting\"}"));
        }

        // Relaying: both generations, ready throughout, the running phase in /status.
        config = Python(port, metricsPort, soak: "4s").WriteTo(dir);
        await using var supervisor = SupervisorProcess.Start(config, output);
        await supervisor.WaitForActiveAsync(1);
        var relay = supervisor.RelayAsync();
        await supervisor.WaitForLogAsync("relay 1: handover ok");
        await Task.Delay(300);
        var (code, json) = await GetAsync(metricsPort, "/status");
        Assert.Equal(HttpStatusCode.OK, code);
        var snapshot = JsonDocument.Parse(json).RootElement;
        Assert.Equal("relay 1 in phase 'soak'", snapshot.GetProperty("relay_running").GetString());
        Assert.InRange(snapshot.GetProperty("relay_phase_s").GetDouble(), 0.2, 4.5);
        Assert.True(snapshot.GetProperty("ready").GetBoolean());
        Assert.Equal($"127.0.0.1:{metricsPort}", snapshot.GetProperty("metrics_address").GetString());
        Assert.Equal(2, snapshot.GetProperty("generations").GetArrayLength());
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(metricsPort, "/readyz")).Status);
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(metricsPort, "/healthz")).Status);
        string during = await MetricsAsync(metricsPort);
        Assert.Equal(1, Value(during, "aeterna_relay_running"));
        Assert.Equal(1, Value(during, "aeterna_generations{state=\"active\"}"));
        Assert.Equal(1, Value(during, "aeterna_generations{state=\"ready\"}"));
        Assert.Equal(0, (await relay).Code);

        // A crash outside a relay: restarted, counted; liveness never failed meanwhile.
        int pid = (await supervisor.StatusAsync()).GetProperty("generations")[0].GetProperty("pid").GetInt32();
        var probing = new CancellationTokenSource();
        var healthz = Task.Run(async () =>
        {
            var seen = new List<HttpStatusCode>();
            while (!probing.IsCancellationRequested) { seen.Add((await GetAsync(metricsPort, "/healthz")).Status); await Task.Delay(20); }
            return seen;
        });
        Assert.Equal(0, Posix.Kill(pid, Posix.SIGKILL));
        await supervisor.WaitForActiveAsync(3);
        probing.Cancel();
        var statuses = await healthz;
        Assert.NotEmpty(statuses);
        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.OK, s));
        string after = await MetricsAsync(metricsPort);
        Assert.Equal(1, Value(after, "aeterna_restarts_total"));
        Assert.Equal(3, Value(after, "aeterna_active_generation"));
        Assert.Equal(1, Value(after, "aeterna_child_up"));
        Assert.Equal(HttpStatusCode.NotFound, (await GetAsync(metricsPort, "/nope")).Status);

        // Stopping: not ready from the first moment (a load balancer drains it while the generation
        // drains), still alive. An idle keep-alive client keeps the generation draining meanwhile.
        using var keepAlive = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await keepAlive.ConnectAsync(IPAddress.Loopback, port);
        await keepAlive.SendAsync("GET / HTTP/1.1\r\nHost: t\r\n\r\n"u8.ToArray());
        Assert.True(await keepAlive.ReceiveAsync(new byte[4096]) > 0);
        supervisor.Signal(Posix.SIGTERM);
        await supervisor.WaitForLogAsync("stopping on SIGTERM");
        var (stopping, reason) = await GetAsync(metricsPort, "/readyz");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, stopping);
        Assert.Equal("not ready: the supervisor is stopping\n", reason);
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(metricsPort, "/healthz")).Status);
        Assert.False(supervisor.HasExited);
        keepAlive.Dispose();
        await supervisor.WaitForExitAsync();
    }

    [Fact]
    public async Task Start_fails_with_a_clear_error_when_the_metrics_port_is_taken()
    {
        using var dir = new TempDirectory();
        using var squatter = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        squatter.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        squatter.Listen();
        int taken = ((IPEndPoint)squatter.LocalEndPoint!).Port;
        string config = Python(FreePort.Get(), taken).WriteTo(dir);
        await using var supervisor = SupervisorProcess.Start(config, output);
        Assert.Equal(6, await supervisor.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        string log = string.Join('\n', supervisor.Log);
        Assert.Contains($"cannot start: cannot serve metrics on observability.metrics_port '127.0.0.1:{taken}'", log);
        Assert.Contains($"another process listens on port {taken}", log);
        Assert.Contains("Fix:", log);
        Assert.DoesNotContain("generation 1 started", log);
    }

    [Fact]
    public async Task A_stateful_relay_counts_the_state_handed_over_and_status_shows_its_size()
    {
        using var dir = new TempDirectory();
        int port = FreePort.Get(), metricsPort = FreePort.Get();
        string config = new TestConfig
        {
            Command = ["dotnet", TestApps.StatefulApp], Port = port, Readiness = "auto", ReadyTimeout = "20s", Drain = "5s",
            Observability = [$"metrics_port: \"127.0.0.1:{metricsPort}\""],
        }.WriteTo(dir);
        await using var supervisor = SupervisorProcess.Start(config, output);
        await supervisor.WaitForActiveAsync(1);
        using (var store = new StoreClient(port))
            for (int i = 0; i < 100; i++)
                Assert.True(await store.PutAsync($"key{i}", new string('x', 100)));

        var (code, report) = await supervisor.RelayAsync("--soak", "0");
        Assert.Equal(0, code);
        var handover = report.GetProperty("handover");
        long stateBytes = handover.GetProperty("state_bytes").GetInt64();
        Assert.True(stateBytes > 100 * 100, $"state_bytes {stateBytes}");

        string m = await MetricsAsync(metricsPort);
        await Promtool.AssertValidAsync(m);
        Assert.Equal(stateBytes, Value(m, "aeterna_handover_state_bytes_total"));
        Assert.Equal(stateBytes, Value(m, "aeterna_last_handover_state_bytes"));
        Assert.Equal(1, Value(m, "aeterna_handover_latency_seconds_count"));
        Assert.Equal(handover.GetProperty("latency_ms").GetDouble() / 1000, Value(m, "aeterna_handover_latency_seconds_sum"), 6);

        var active = (await supervisor.StatusAsync()).GetProperty("generations").EnumerateArray().Single(g => g.GetProperty("active").GetBoolean());
        Assert.True(active.GetProperty("stateful").GetBoolean());
        Assert.Equal(stateBytes + handover.GetProperty("region_bytes").GetInt64(), active.GetProperty("state_bytes").GetInt64());
        var (_, text, _) = await ToolCli.RunAsync("status", "-c", config);
        Assert.Contains($"state {Aeterna.Tool.Relay.StateHandover.Bytes(active.GetProperty("state_bytes").GetInt64())}", text);
    }
}
