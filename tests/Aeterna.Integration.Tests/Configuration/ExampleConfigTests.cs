using System.Diagnostics;
using System.Text.Json;
using Aeterna.Tests.Support;
using Xunit.Abstractions;

namespace Aeterna.Integration.Tests.Configuration;

/// <summary>
/// The minimal and full example configs (tests/Aeterna.Tool.Tests/Configuration/Examples) run as
/// written: copied unchanged beside the Python agent they name, which keeps a count of its starts
/// in its Aeterna state. The supervisor starts it with the config's environment, and a relay hands
/// the count to the next generation by the configured mechanism and socket. The full example
/// binds :9090 and its session socket at /tmp/aeterna_srp.sock, fixed places another test or
/// checkout on this machine could hold: each example runs in a network and mount namespace of its
/// own (unshare), with a private /tmp.
/// </summary>
public sealed class ExampleConfigTests(ITestOutputHelper output)
{
    // The configs have no listeners: the agent binds a port of its own, and serves through the
    // accept gate, which tells the supervisor when the new generation really accepts (ACCEPTING).
    private const string Agent = """
        import os, signal
        from aeterna import AeternaClient

        client = AeternaClient(format="json")
        listener = client.get_listener_socket(fallback=("127.0.0.1", 0))
        state = client.load_context(default=lambda: {"starts": 0})
        state["starts"] += 1
        print(f"agent: generation {client.generation}, start {state['starts']}, PORT={os.environ.get('PORT', '-')}, "
              f"PYTHONUNBUFFERED={os.environ.get('PYTHONUNBUFFERED', '-')}, socket {os.environ.get('AETERNA_SOCKET')}", flush=True)
        signal.signal(signal.SIGTERM, lambda *_: client.drain())
        client.ready()
        while (accepted := client.accept(listener)) is not None:
            accepted[0].close()
        """;

    [Theory]
    [InlineData("minimal.yaml", "my_agent.py", "PORT=8080", "pipe")]
    [InlineData("full.yaml", "agent.py", "PYTHONUNBUFFERED=1", null)]
    public async Task An_example_config_runs_as_written_and_hands_its_state_over(string example, string agent, string environment, string? mechanism)
    {
        using var dir = new TempDirectory();
        string config = dir.File("aeterna.yaml");
        File.Copy(Path.Combine(Repo.Root, "tests", "Aeterna.Tool.Tests", "Configuration", "Examples", example), config);
        dir.Write(agent, Agent);
        // The configs name `python` and `python3`: Debian's with the aeterna package installed,
        // whatever else is first on PATH.
        PythonVenv.WriteLaunchers(dir.File("bin"));
        var env = new Dictionary<string, string> { ["PATH"] = $"{dir.File("bin")}:{Environment.GetEnvironmentVariable("PATH")}" };

        // A private loopback and /tmp; the temp directory, itself under /tmp, is bound back in.
        string[] isolated = ["unshare", "--net", "--mount", "--fork", "--kill-child", "sh", "-c",
            $"set -e; ip link set lo up; mount --make-rprivate /; mount --bind '{dir.Path}' /mnt; mount -t tmpfs -o mode=1777 tmpfs /tmp; "
            + $"mkdir -p '{dir.Path}'; mount --bind /mnt '{dir.Path}'; exec \"$0\" \"$@\""];
        await using var supervisor = SupervisorProcess.Start(config, output, prefix: isolated, environment: env);
        await supervisor.WaitForLogAsync("agent: generation 1, start 1", TimeSpan.FromSeconds(60));
        string started = supervisor.Log.First(l => l.StartsWith("agent: generation 1", StringComparison.Ordinal));
        Assert.Contains(environment, started);
        if (example == "full.yaml")
        {
            Assert.Contains("socket /tmp/aeterna_srp.sock", started);
            var (code, metrics) = await InsideAsync(supervisor, "curl", "-sf", "http://127.0.0.1:9090/readyz");
            Assert.True(code == 0, $"the metrics endpoint of observability.metrics_port \":9090\" does not answer: {metrics}");
        }

        var (relayCode, relayOutput) = await InsideAsync(supervisor, "dotnet", SupervisorProcess.ToolDll, "relay", "-c", config, "--json", "--soak", "1s");
        Assert.True(relayCode == 0, $"relay exited {relayCode}:\n{relayOutput}\n{string.Join('\n', supervisor.Log)}");
        var report = JsonDocument.Parse(relayOutput.Split('\n').Last(l => l.Contains("\"report\"", StringComparison.Ordinal))).RootElement.GetProperty("report");
        Assert.Equal("committed", report.GetProperty("outcome").GetString());
        if (mechanism is not null) Assert.Equal(mechanism, report.GetProperty("handover").GetProperty("mechanism").GetString());
        await supervisor.WaitForLogAsync("agent: generation 2, start 2", TimeSpan.FromSeconds(30));

        var (stopCode, stopOutput) = await InsideAsync(supervisor, "dotnet", SupervisorProcess.ToolDll, "stop", "-c", config);
        Assert.True(stopCode == 0, stopOutput);
        Assert.Equal(0, await supervisor.WaitForExitAsync(TimeSpan.FromSeconds(60)));
    }

    /// <summary>Runs a program in the supervisor's network and mount namespaces.</summary>
    private async Task<(int Code, string Output)> InsideAsync(SupervisorProcess supervisor, params string[] args)
    {
        var start = new ProcessStartInfo("nsenter") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in (string[])["-t", supervisor.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture), "-n", "-m", .. args]) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        string text = await stdout + await stderr;
        output.WriteLine($"$ {string.Join(' ', args)}\n{text}");
        return (process.ExitCode, text);
    }
}
