using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Aeterna.Tests.Support;
using Xunit.Abstractions;

namespace Aeterna.Templates.Tests;

/// <summary>
/// `dotnet new aeterna-agent` as a user meets it: made from the packed template, built
/// against the packed runtime, run under the real supervisor and relayed with its conversations
/// and embedding cache; bad input refused without a trace; the checked-in sample is the template's
/// output; the Kubernetes manifest passes a schema check.
/// </summary>
[Collection(TemplateTests.Name)]
public sealed partial class AgentTemplateTests(AgentTemplate template, ITestOutputHelper output)
{
    [Fact]
    public void Root_pack_makes_the_tool_runtime_and_template_packages_and_the_project_uses_the_same_version()
    {
        output.WriteLine(template.Log);
        string v = template.Version;
        Assert.Matches(@"^\d+\.\d+\.\d+", v);
        Assert.Equal([$"Aeterna.Runtime.{v}.nupkg", $"Aeterna.Templates.{v}.nupkg", $"aeterna.{v}.nupkg"], template.Packages);

        string csproj = File.ReadAllText(Path.Combine(template.Project, "MyAgent.csproj"));
        Assert.Contains($"<PackageReference Include=\"Aeterna.Runtime\" Version=\"{v}\" />", csproj);
        Assert.Contains("<TargetFramework>net10.0</TargetFramework>", csproj);
        Assert.Contains($"ARG AETERNA_VERSION={v}", File.ReadAllText(Path.Combine(template.Project, "Dockerfile")));
        // The build restored the runtime from the packed folder into the private package folder.
        Assert.True(File.Exists(Path.Combine(template.Environment["NUGET_PACKAGES"], "aeterna.runtime", v, $"aeterna.runtime.{v}.nupkg")));
        Assert.True(File.Exists(Path.Combine(template.Project, "bin", "Debug", "net10.0", "MyAgent.dll")));
        // -n MyAgent renamed the project, its namespace and every name derived from it; no placeholder is left.
        foreach (var file in Directory.EnumerateFiles(template.Project, "*", SearchOption.AllDirectories).Where(f => !f.Contains("/bin/") && !f.Contains("/obj/")))
        {
            string text = File.ReadAllText(file);
            Assert.DoesNotContain("AeternaAgent", text);
            Assert.DoesNotContain("aeternaagent", text);
            Assert.DoesNotContain("0.0.0-aeterna-version", text);
        }
        Assert.Contains("namespace MyAgent;", File.ReadAllText(Path.Combine(template.Project, "Agent", "AgentMemory.cs")));
        foreach (var expected in new[] { "aeterna.yaml", "Dockerfile", ".dockerignore", "README.md", "deploy/kubernetes.yaml", "deploy/aeterna.yaml", "deploy/rollout.sh" })
            Assert.True(File.Exists(Path.Combine(template.Project, expected)), $"the created project has no {expected}");
    }

    [Fact]
    public async Task Created_agent_runs_under_the_supervisor_and_relays_keep_every_session_and_the_embedding_cache()
    {
        var (validate, validation) = await template.TryRunAsync(template.Project, "dotnet", SupervisorProcess.ToolDll, "validate", "-c", "aeterna.yaml");
        Assert.True(validate == 0, $"the template's aeterna.yaml is invalid:\n{validation}");

        int port = FreePort.Get();
        string config = WriteLocalConfig("relay.yaml", port);
        await using var supervisor = SupervisorProcess.Start(config, output);
        await supervisor.WaitForActiveAsync(1, TimeSpan.FromSeconds(60));
        using var agent = new AgentClient(port);
        await agent.WaitHealthyAsync(TimeSpan.FromSeconds(30), () => string.Join('\n', supervisor.Log));

        var (generation, pid, version) = await agent.AboutAsync();
        Assert.Equal((1, "1.0.0"), (generation, version));
        var histories = await agent.ChatAsync(sessions: 24, messagesEach: 6, prefix: "s");
        var (stats, statsRoot) = await agent.StatsAsync();
        Assert.Equal(24, statsRoot.GetProperty("sessions").GetInt32());
        Assert.True(statsRoot.GetProperty("cache").GetProperty("entries").GetInt32() > 24 * 2, stats);
        // The agent answers from the conversation: the number it was told in this session.
        Assert.Contains("My favourite number in s-3 is 300.", histories["s-3"][5].Text);

        var (code, report) = await supervisor.RelayAsync("--soak", "1s");
        output.WriteLine(report.ToString());
        Assert.True(code == 0, $"relay exited {code}: {report}");
        Assert.Equal("committed", report.GetProperty("outcome").GetString());
        var handover = report.GetProperty("handover");
        Assert.Equal(2, handover.GetProperty("regions").GetInt32()); // the cache's vectors and row keys, by fd
        Assert.True(handover.GetProperty("region_bytes").GetInt64() >= 4096L * 256 * 4);

        var after = await agent.AboutAsync();
        Assert.Equal(2, after.Generation);
        Assert.Equal(report.GetProperty("to_pid").GetInt32(), after.Pid);
        Assert.NotEqual(pid, after.Pid);
        await agent.AssertHistoriesAsync(histories);
        Assert.Equal(stats, (await agent.StatsAsync()).Text); // the same cache: entries, counters, CRC-32C of the vectors

        // The new generation uses the cache it received: a new question costs one embedding, and the
        // session's four statements are found in the cache instead of being embedded again.
        var cacheBefore = statsRoot.GetProperty("cache");
        var reply = await agent.SendAsync("s-7", "Tell me, what is my favourite number in s-7?");
        Assert.Contains("My favourite number in s-7 is 700.", reply[1].Text);
        var cacheAfter = (await agent.StatsAsync()).Root.GetProperty("cache");
        Assert.Equal(cacheBefore.GetProperty("misses").GetInt64() + 1, cacheAfter.GetProperty("misses").GetInt64());
        Assert.Equal(cacheBefore.GetProperty("hits").GetInt64() + 4, cacheAfter.GetProperty("hits").GetInt64());
        histories["s-7"].AddRange(reply);

        // A second relay while a client keeps chatting: every answered message is kept, none fails.
        using var stop = new CancellationTokenSource();
        var live = Task.Run(async () =>
        {
            var turns = new List<Turn>();
            for (int i = 0; !stop.IsCancellationRequested; i++) turns.AddRange(await agent.SendAsync("live", $"Live note {i} about the relay."));
            return turns;
        });
        await Task.Delay(300);
        (code, report) = await supervisor.RelayAsync("--soak", "1s");
        Assert.True(code == 0, $"second relay exited {code}: {report}");
        await Task.Delay(300);
        stop.Cancel();
        var liveTurns = await live;
        output.WriteLine($"{liveTurns.Count / 2} messages answered while relaying; handover latency {report.GetProperty("handover").GetProperty("latency_ms").GetDouble():0.###} ms");
        Assert.True(liveTurns.Count >= 20, $"only {liveTurns.Count / 2} messages during the relay");
        histories["live"] = liveTurns;
        Assert.Equal(3, (await agent.AboutAsync()).Generation);
        await agent.AssertHistoriesAsync(histories);

        // SIGTERM: the agent drains and exits 0, and so does the supervisor (with the agent's code).
        agent.Dispose();
        supervisor.Signal(Posix.SIGTERM);
        Assert.Equal(0, await supervisor.WaitForExitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task Bad_input_gets_400_with_a_json_error_and_changes_nothing()
    {
        int port = FreePort.Get();
        await using var supervisor = SupervisorProcess.Start(WriteLocalConfig("input.yaml", port), output);
        await supervisor.WaitForActiveAsync(1, TimeSpan.FromSeconds(60));
        using var agent = new AgentClient(port);
        await agent.WaitHealthyAsync(TimeSpan.FromSeconds(30), () => string.Join('\n', supervisor.Log));
        await agent.SendAsync("kept", "I keep bees.");
        await agent.SendAsync("kept", "What do I keep?");
        var history = await agent.HistoryAsync("kept");
        var (stats, _) = await agent.StatsAsync();

        var bad = new (string Name, byte[]? Body)[]
        {
            ("no body", null),
            ("empty body", []),
            ("not JSON", AgentClient.Utf8("hello")),
            ("truncated JSON", AgentClient.Utf8("{\"text\": \"abc")),
            ("a JSON array", AgentClient.Utf8("[\"text\"]")),
            ("JSON null", AgentClient.Utf8("null")),
            ("no text", AgentClient.Utf8("{}")),
            ("another field", AgentClient.Utf8("{\"message\": \"hi\"}")),
            ("text null", AgentClient.Utf8("{\"text\": null}")),
            ("text a number", AgentClient.Utf8("{\"text\": 5}")),
            ("text an object", AgentClient.Utf8("{\"text\": {\"a\": 1}}")),
            ("text blank", AgentClient.Utf8("{\"text\": \"  \\n \"}")),
            ("text over 4000 characters", AgentClient.Utf8(JsonSerializer.Serialize(new { text = new string('x', 4001) }))),
            ("body over 64 KiB", AgentClient.Utf8("{\"text\": \"hi\", \"pad\": \"" + new string(' ', 70_000) + "\"}")),
            ("not UTF-8", [(byte)'{', (byte)'"', (byte)'t', (byte)'e', (byte)'x', (byte)'t', (byte)'"', (byte)':', (byte)'"', 0xC3, 0x28, (byte)'"', (byte)'}']),
        };
        foreach (var session in new[] { "kept", "fresh" })
            foreach (var (name, body) in bad)
                await AssertBadRequestAsync(agent, $"sessions/{session}/messages", body, $"{name} to {session}");
        string valid = JsonSerializer.Serialize(new { text = "hi" });
        await AssertBadRequestAsync(agent, "sessions/bad%20id/messages", AgentClient.Utf8(valid), "a space in the session id");
        await AssertBadRequestAsync(agent, "sessions/bad%21/messages", AgentClient.Utf8(valid), "a '!' in the session id");
        await AssertBadRequestAsync(agent, $"sessions/{new string('a', 129)}/messages", AgentClient.Utf8(valid), "a session id of 129 characters");

        Assert.Equal(history, await agent.HistoryAsync("kept"));
        Assert.Null(await agent.HistoryAsync("fresh")); // 404: the bad requests did not create it
        Assert.Equal(stats, (await agent.StatsAsync()).Text);

        // The limits are where they say: 4000 characters and a 128-character id are fine.
        await agent.SendAsync(new string('b', 128), new string('y', 4000));
    }

    [Fact]
    public async Task The_checked_in_chat_agent_sample_is_what_the_template_creates()
    {
        string sample = Path.Combine(Repo.Root, "samples", "chat-agent");
        string created = Path.Combine(template.Root, "sample-check");
        await template.NewAsync("ChatAgent", created);
        // Besides the template's files the sample has only what lets it build inside the repository.
        string[] sampleOnly = ["Directory.Build.props", "Directory.Packages.props", "nuget.config", "SAMPLE.md"];
        var createdFiles = Files(created);
        var sampleFiles = Files(sample).Where(f => !sampleOnly.Contains(f)).ToList();
        Assert.Equal(createdFiles, sampleFiles);
        foreach (var file in createdFiles)
            Assert.True(File.ReadAllText(Path.Combine(created, file)) == File.ReadAllText(Path.Combine(sample, file)),
                $"samples/chat-agent/{file} differs from what `dotnet new aeterna-agent -n ChatAgent` creates: regenerate the sample (samples/chat-agent/SAMPLE.md says how)");
    }

    [Fact]
    public async Task Kubernetes_manifest_passes_a_schema_check_and_agrees_with_the_container_config()
    {
        string manifest = Path.Combine(template.Project, "deploy", "kubernetes.yaml");
        string checker = Path.Combine(Repo.Root, "tests", "tools", "k8s-schema-check.py");
        var (code, result) = await template.TryRunAsync(template.Project, "/usr/bin/python3", checker, manifest);
        output.WriteLine(result);
        Assert.False(result.Contains("No module named", StringComparison.Ordinal), "the schema check needs Debian's python3-kubernetes and python3-yaml (./test.sh installs them): " + result);
        Assert.True(code == 0, result);
        Assert.Contains("2 document(s), 0 error(s)", result);

        // The checker finds what kubectl's validation would: an unknown field, a wrong type, a probe on no port.
        string text = File.ReadAllText(manifest);
        string broken = Path.Combine(template.Root, "broken.yaml");
        File.WriteAllText(broken, text.Replace("terminationGracePeriodSeconds:", "terminationGracePeriod:").Replace("replicas: 2", "replicas: two")
            .Replace("path: /healthz\n              port: metrics", "path: /healthz\n              port: metric"));
        (code, result) = await template.TryRunAsync(template.Project, "/usr/bin/python3", checker, broken);
        Assert.NotEqual(0, code);
        Assert.Contains("spec.template.spec.terminationGracePeriod: unknown field", result);
        Assert.Contains("spec.replicas: expected int", result);
        Assert.Contains("livenessProbe.httpGet.port: no port named 'metric'", result);

        // Consistent with deploy/aeterna.yaml: the grace period outlasts the drain, the probes and the
        // Service reach the supervisor's metrics port and listener.
        var deploy = Yaml(Path.Combine(template.Project, "deploy", "aeterna.yaml"));
        var docs = text.Split("\n---\n").Select(d => new YamlDotNet.Serialization.Deserializer().Deserialize<Dictionary<string, object>>(d)).ToList();
        var pod = Map(Map(Map(docs[1]["spec"])["template"])["spec"]);
        int grace = int.Parse((string)pod["terminationGracePeriodSeconds"], System.Globalization.CultureInfo.InvariantCulture);
        var drain = TimeSpan.FromSeconds(double.Parse(Regex.Match((string)Map(deploy["orchestration"])["drain_timeout"], @"^(\d+)s$").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(grace > drain.TotalSeconds + 5, $"terminationGracePeriodSeconds {grace} must be well above drain_timeout {drain.TotalSeconds} s");
        var container = Map(((List<object>)pod["containers"])[0]);
        var ports = ((List<object>)container["ports"]).Select(Map).ToDictionary(p => (string)p["name"], p => (string)p["containerPort"]);
        Assert.Equal("9090", ports["metrics"]);
        Assert.EndsWith(":9090", (string)Map(deploy["observability"])["metrics_port"]);
        Assert.EndsWith(":" + ports["http"], (string)Map(((List<object>)deploy["listeners"])[0])["address"]);
        Assert.EndsWith(":" + ports["ws"], (string)Map(((List<object>)deploy["listeners"])[1])["address"]);
        Assert.Equal("/readyz", Map(Map(container["readinessProbe"])["httpGet"])["path"]);
        Assert.Equal("/healthz", Map(Map(container["livenessProbe"])["httpGet"])["path"]);
        Assert.Equal("metrics", Map(Map(container["livenessProbe"])["httpGet"])["port"]);

        var (syntax, shell) = await template.TryRunAsync(template.Project, "bash", "-n", "deploy/rollout.sh");
        Assert.True(syntax == 0, shell);
    }

    private static Dictionary<string, object> Yaml(string path) =>
        new YamlDotNet.Serialization.Deserializer().Deserialize<Dictionary<string, object>>(File.ReadAllText(path));

    private static Dictionary<string, object> Map(object o) => ((Dictionary<object, object>)o).ToDictionary(e => (string)e.Key, e => e.Value);

    private static async Task AssertBadRequestAsync(AgentClient agent, string path, byte[]? body, string what)
    {
        var (status, text, type) = await agent.PostRawAsync(path, body);
        Assert.True(status == HttpStatusCode.BadRequest, $"{what}: {(int)status} {text}");
        Assert.Equal("application/json", type);
        var error = JsonDocument.Parse(text).RootElement.GetProperty("error");
        Assert.True(error.ValueKind == JsonValueKind.String && error.GetString()!.Length > 0, $"{what}: {text}");
    }

    /// <summary>
    /// The template's aeterna.yaml with the listeners (and metrics endpoint) on free loopback ports,
    /// and, given <paramref name="drain"/>, another drain_timeout.
    /// </summary>
    private string WriteLocalConfig(string name, int port, string? drain = null)
    {
        string yaml = File.ReadAllText(Path.Combine(template.Project, "aeterna.yaml"));
        Assert.Contains("address: tcp://127.0.0.1:8080", yaml);
        Assert.Contains("address: tcp://127.0.0.1:8081", yaml);
        yaml = yaml.Replace("tcp://127.0.0.1:8080", $"tcp://127.0.0.1:{port}").Replace("tcp://127.0.0.1:8081", $"tcp://127.0.0.1:{FreePort.Get()}")
            .Replace("\"127.0.0.1:9090\"", $"\"127.0.0.1:{FreePort.Get()}\"");
        if (drain is not null)
        {
            Assert.Contains("  drain_timeout: 10s\n", yaml);
            yaml = yaml.Replace("  drain_timeout: 10s\n", $"  drain_timeout: {drain}\n");
        }
        string path = Path.Combine(template.Project, name);
        File.WriteAllText(path, yaml);
        return path;
    }

    private static List<string> Files(string root) =>
        [.. Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(root, f))
            .Where(f => !f.StartsWith("bin/", StringComparison.Ordinal) && !f.StartsWith("obj/", StringComparison.Ordinal)).Order(StringComparer.Ordinal)];
}
