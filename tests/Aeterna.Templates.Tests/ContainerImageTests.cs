using System.Diagnostics;
using System.Text.Json;
using Aeterna.Tests.Support;
using Xunit.Abstractions;

namespace Aeterna.Templates.Tests;

/// <summary>
/// The created project's Dockerfile without a container engine: its build stage run
/// here, its image laid out, and containers of it made with unshare (<see cref="ImageContainer"/>):
/// the supervisor is PID 1, runs as the image's non-root user, relays the agent in place through
/// `exec`, stops on the STOPSIGNAL; and deploy/rollout.sh relays two "pods" one at a time,
/// stopping at the first that fails.
/// </summary>
[Collection(TemplateTests.Name)]
public sealed class ContainerImageTests(AgentTemplate template, ITestOutputHelper output) : IAsyncLifetime
{
    private readonly List<ImageContainer> _containers = [];

    [Fact]
    public async Task Image_runs_the_supervisor_as_pid_1_and_non_root_and_an_exec_relay_keeps_the_agents_memory()
    {
        var image = await template.ImageAsync();
        var dockerfile = image.Dockerfile;
        Assert.Equal("mcr.microsoft.com/dotnet/sdk:10.0", dockerfile.Stages[0].BaseImage);
        Assert.Equal("mcr.microsoft.com/dotnet/aspnet:10.0", dockerfile.Stages[1].BaseImage);
        Assert.NotEqual("0", image.User.Split(':')[0]);
        Assert.NotEqual("root", image.User.Split(':')[0]);
        Assert.Equal("SIGTERM", image.StopSignal);
        Assert.Equal(["8080", "8081", "9090"], image.Exposed); // the listeners of deploy/aeterna.yaml and its metrics_port
        Assert.Equal(["/opt/aeterna/dotnet-aeterna", "start", "-c", "/app/aeterna.yaml"], image.Entrypoint);
        Assert.Equal("image", new FileInfo(Path.Combine(image.Files, "app", "releases", "current")).LinkTarget);
        Assert.True(File.Exists(Path.Combine(image.Files, "app", "releases", "image", "MyAgent.dll")));
        Assert.True(File.Exists(Path.Combine(image.Files, "app", "releases", "image", "MyAgent.relay.json")), "the relay manifest is published beside the app");

        await using var container = await StartAsync(image, "solo");
        // The config is valid where the image puts it (working_dir, the release symlink, …).
        var (code, validation) = await container.ExecAsync("dotnet-aeterna", "validate", "-c", "/app/aeterna.yaml");
        Assert.True(code == 0, validation);

        using var agent = new AgentClient(container.HostPort);
        await agent.WaitHealthyAsync(TimeSpan.FromSeconds(60), () => string.Join('\n', container.Log));
        // PID 1 of the container is the supervisor (its pid in its own namespace is 1), as the image's user.
        string status = File.ReadAllText($"/proc/{container.InitPid}/status");
        Assert.Matches(@"NSpid:\s+\d+\s+1\n", status);
        Assert.Matches($@"Uid:\s+{image.User.Split(':')[0]}\s", status);
        Assert.StartsWith("/opt/aeterna/dotnet-aeterna start", ImageContainer.Cmdline(container.InitPid));
        int app = Children(container.InitPid).Single(p => ImageContainer.Cmdline(p).Contains("MyAgent.dll", StringComparison.Ordinal));
        Assert.EndsWith("/app/releases/image", new DirectoryInfo($"/proc/{app}/cwd").LinkTarget!);

        var before = await agent.AboutAsync();
        Assert.Equal(1, before.Generation);
        var histories = await agent.ChatAsync(sessions: 8, messagesEach: 4, prefix: "c");
        var (stats, _) = await agent.StatsAsync();

        // `docker exec … dotnet-aeterna relay` (or kubectl exec): the supervisor relays in place.
        var (relayCode, relayOutput) = await container.ExecAsync("dotnet-aeterna", "relay", "-c", "/app/aeterna.yaml", "--json", "--soak", "1s");
        output.WriteLine(relayOutput);
        Assert.True(relayCode == 0, $"relay exited {relayCode}:\n{relayOutput}\n{string.Join('\n', container.Log)}");
        var report = JsonDocument.Parse(relayOutput.Split('\n').Last(l => l.Contains("\"report\"", StringComparison.Ordinal))).RootElement.GetProperty("report");
        Assert.Equal("committed", report.GetProperty("outcome").GetString());
        var after = await agent.AboutAsync();
        Assert.Equal(2, after.Generation);
        Assert.NotEqual(before.Pid, after.Pid);
        await agent.AssertHistoriesAsync(histories);
        Assert.Equal(stats, (await agent.StatsAsync()).Text);

        // docker stop: the STOPSIGNAL to PID 1; every generation drains, the container exits 0,
        // well within the stop timeout the manifest and the README give (30 s).
        agent.Dispose();
        var clock = Stopwatch.StartNew();
        Assert.Equal(0, await container.StopAsync(Posix.SIGTERM, TimeSpan.FromSeconds(30)));
        output.WriteLine($"stopped in {clock.Elapsed.TotalSeconds:0.0} s");
    }

    [Fact]
    public async Task Rollout_script_relays_each_pod_in_place_one_at_a_time_and_stops_at_the_first_failure()
    {
        var image = await template.ImageAsync();
        var pods = await Task.WhenAll(StartAsync(image, "agent-a"), StartAsync(image, "agent-b"));
        var clients = pods.Select(p => new AgentClient(p.HostPort)).ToArray();
        var histories = new List<Dictionary<string, List<Turn>>>();
        var pids = new List<int>();
        for (int i = 0; i < pods.Length; i++)
        {
            await clients[i].WaitHealthyAsync(TimeSpan.FromSeconds(60), () => string.Join('\n', pods[i].Log));
            histories.Add(await clients[i].ChatAsync(sessions: 4, messagesEach: 3, prefix: pods[i].Name));
            pids.Add((await clients[i].AboutAsync()).Pid);
        }

        // Kubernetes stand-in: `kubectl get pods` lists the two, `kubectl exec` enters one.
        string kube = Path.Combine(template.Root, "kube");
        Directory.CreateDirectory(kube);
        File.WriteAllLines(Path.Combine(kube, "pods"), pods.Select(p => p.Name));
        foreach (var pod in pods) File.WriteAllLines(Path.Combine(kube, pod.Name + ".exec"), pod.ExecCommand());

        // A new build (the published app of the image build stage, copied as a user's `dotnet publish -o v2` would be).
        string v2 = Path.Combine(template.Root, "v2");
        ImageBuild.Cp(Path.Combine(image.BuildRoot, "out", "app", "releases", "image"), v2);
        var (code, log) = await RolloutAsync(kube, v2, "v2");
        Assert.True(code == 0, log);
        for (int i = 0; i < pods.Length; i++)
        {
            var about = await clients[i].AboutAsync();
            Assert.Equal(2, about.Generation);
            Assert.NotEqual(pids[i], about.Pid);
            await clients[i].AssertHistoriesAsync(histories[i]);
            Assert.Equal("v2", (await pods[i].ExecAsync("readlink", "/app/releases/current")).Output.Trim());
            // The generation serving now runs from the new release's directory.
            int app = Children(pods[i].InitPid).Single(p => ImageContainer.Cmdline(p).Contains("MyAgent.dll", StringComparison.Ordinal));
            Assert.EndsWith("/app/releases/v2", new DirectoryInfo($"/proc/{app}/cwd").LinkTarget!);
        }
        Assert.Contains("rollout done: 2 pod(s) run 'v2'", log);

        // A broken build: the first pod's relay fails (the new generation never gets ready), the
        // old generation serves on with its memory, `current` points back, and the rollout stops
        // before touching the second pod.
        string v3 = Path.Combine(template.Root, "v3");
        ImageBuild.Cp(v2, v3);
        File.WriteAllText(Path.Combine(v3, "MyAgent.dll"), "not an assembly");
        (code, log) = await RolloutAsync(kube, v3, "v3");
        Assert.Equal(1, code);
        Assert.Contains("rollout stopped: the relay on agent-a did not commit", log);
        for (int i = 0; i < pods.Length; i++)
        {
            var about = await clients[i].AboutAsync();
            Assert.Equal(2, about.Generation);
            await clients[i].AssertHistoriesAsync(histories[i]);
            Assert.Equal("v2", (await pods[i].ExecAsync("readlink", "/app/releases/current")).Output.Trim());
        }
        Assert.Equal(0, (await pods[0].ExecAsync("test", "-d", "/app/releases/v3")).Code);
        Assert.NotEqual(0, (await pods[1].ExecAsync("test", "-e", "/app/releases/v3")).Code); // never touched
        foreach (var c in clients) c.Dispose();
    }

    private async Task<(int Code, string Log)> RolloutAsync(string kube, string build, string release)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { Path.Combine(template.Project, "deploy", "rollout.sh"), build, release }) start.ArgumentList.Add(a);
        start.Environment["KUBECTL"] = Path.Combine(Repo.Root, "tests", "tools", "fake-kubectl");
        start.Environment["FAKE_KUBE_DIR"] = kube;
        start.Environment["RELAY_ARGS"] = "--soak 1s";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        string log = await stdout + await stderr;
        output.WriteLine($"$ rollout.sh {release} (exit {process.ExitCode})\n{log}");
        return (process.ExitCode, log);
    }

    private async Task<ImageContainer> StartAsync(ImageBuild image, string name)
    {
        var container = await ImageContainer.StartAsync(image, Path.Combine(template.Root, "containers", name + "-" + Guid.NewGuid().ToString("N")[..6]), name);
        lock (_containers) _containers.Add(container);
        return container;
    }

    /// <summary>Children of every thread of <paramref name="pid"/> (the supervisor spawns on a thread of its own).</summary>
    private static IEnumerable<int> Children(int pid) =>
        Directory.GetDirectories($"/proc/{pid}/task").SelectMany(t => File.ReadAllText(Path.Combine(t, "children")).Split(' ', StringSplitOptions.RemoveEmptyEntries)).Select(int.Parse);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var container in _containers)
        {
            foreach (var line in container.Log) output.WriteLine(line);
            await container.DisposeAsync();
        }
    }
}
