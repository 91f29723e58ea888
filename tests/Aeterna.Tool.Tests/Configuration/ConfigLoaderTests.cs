using Aeterna.Addresses;
using System.Text;
using Aeterna.Tool.Configuration;
using Aeterna.Tests.Support;

namespace Aeterna.Tool.Tests.Configuration;

public sealed class ConfigLoaderTests : IDisposable
{
    private static readonly ReadinessConfig DefaultReadiness = new(ReadinessMode.Auto, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(1), TimeSpan.Zero);

    /// <summary>An example config of tests/Aeterna.Tool.Tests/Configuration/Examples, as written.</summary>
    internal static string Example(string name) => File.ReadAllText(Path.Combine(Repo.Root, "tests", "Aeterna.Tool.Tests", "Configuration", "Examples", name));

    // The README's example of a stateful agent, with its comments; and the smallest config with a hand-over, in the short top-level spelling.
    private static readonly string FullExample = Example("full.yaml");
    private static readonly string MinimalExample = Example("minimal.yaml");
    private static readonly string EveryKey = Example("every-key.yaml");

    private readonly string _dir;
    private readonly string _file;

    public ConfigLoaderTests()
    {
        _dir = Directory.CreateTempSubdirectory("aeterna-config-").FullName;
        Directory.CreateDirectory(Path.Combine(_dir, "app"));
        _file = Path.Combine(_dir, "aeterna.yaml");
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private ConfigLoadResult Parse(string yaml) => ConfigLoader.Parse(yaml, _file);

    private AeternaConfig Valid(string yaml)
    {
        var result = Parse(yaml);
        Assert.True(result.Success, string.Join("\n", result.Errors));
        Assert.Empty(result.Errors);
        return result.Config!;
    }

    private ConfigError SingleError(string yaml)
    {
        var result = Parse(yaml);
        Assert.False(result.Success);
        Assert.Null(result.Config);
        return Assert.Single(result.Errors);
    }

    private static void AssertAt(ConfigError error, int line, int column)
    {
        Assert.True((line, column) == (error.Line, error.Column), $"expected {line}:{column}, got {error}");
    }

    // ---- valid files ----

    [Fact]
    public void FullExampleLoadsAsWritten()
    {
        var c = Valid(FullExample);
        Assert.Equal(_file, c.SourcePath);
        Assert.Equal("agent-core", c.Service.Name);
        Assert.Equal(["python", "agent.py"], c.Service.Command);
        Assert.Equal([new KeyValuePair<string, string>("PYTHONUNBUFFERED", "1")], c.Service.Environment);
        Assert.Equal(_dir, c.Service.WorkingDirectory);
        Assert.Empty(c.Listeners);
        Assert.True(c.Orchestration.Canary.Enabled);
        Assert.Equal(TimeSpan.FromSeconds(30), c.Orchestration.Canary.SoakTime);
        Assert.True(c.Orchestration.StateHandoff.Enabled);
        Assert.Equal("/tmp/aeterna_srp.sock", c.Orchestration.StateHandoff.SocketPath);
        Assert.Equal(":9090", c.Observability.MetricsAddress);
        Assert.Equal(LogLevel.Info, c.Observability.LogLevel);
        Assert.Equal(ControlSocketPath.Default(_file), c.Control.SocketPath);
    }

    [Fact]
    public void MinimalExampleLoadsAsWritten()
    {
        var c = Valid(MinimalExample);
        Assert.Equal("aeterna", c.Service.Name); // from the file name
        Assert.Equal(["python3", "my_agent.py"], c.Service.Command);
        Assert.Equal([new KeyValuePair<string, string>("PORT", "8080")], c.Service.Environment);
        Assert.True(c.Orchestration.StateHandoff.Enabled); // implied by the section
        Assert.Equal(HandoffMechanism.Pipe, c.Orchestration.StateHandoff.Mechanism);
        Assert.Equal(TimeSpan.FromSeconds(5), c.Orchestration.StateHandoff.Timeout);
        Assert.Equal(Path.Combine(Path.GetDirectoryName(c.Control.SocketPath)!, "aeterna.sock"), c.Orchestration.StateHandoff.SocketPath);
        Assert.Equal(DefaultReadiness, c.Readiness);
    }

    [Fact]
    public void EveryKeyIsMapped()
    {
        var c = Valid(EveryKey);
        Assert.Equal("agent-core", c.Service.Name);
        Assert.Equal(["python", "agent.py", "--port", "8080"], c.Service.Command);
        Assert.Equal([new("PYTHONUNBUFFERED", "1"), new KeyValuePair<string, string>("MODE", "prod")], c.Service.Environment);
        Assert.Equal(Path.Combine(_dir, "app"), c.Service.WorkingDirectory);

        Assert.Equal(4, c.Listeners.Count);
        Assert.Equal(new ListenerConfig("http", "tcp://0.0.0.0:8080", ListenerKind.Tcp, "0.0.0.0", 8080, null, 1024), c.Listeners[0]);
        Assert.Equal(new ListenerConfig("admin", "tcp://[::1]:9000", ListenerKind.Tcp, "::1", 9000, null, 4096), c.Listeners[1]);
        Assert.Equal(new ListenerConfig("dns", "udp://localhost:5353", ListenerKind.Udp, "localhost", 5353, null, 4096), c.Listeners[2]);
        Assert.Equal(new ListenerConfig("local", "unix:///tmp/aeterna-tests/app.sock", ListenerKind.Unix, null, 0, "/tmp/aeterna-tests/app.sock", 4096), c.Listeners[3]);

        Assert.Equal(new ReadinessConfig(ReadinessMode.Notify, TimeSpan.FromSeconds(90), TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(10)), c.Readiness);

        var o = c.Orchestration;
        Assert.Equal(3, o.Preflight.Count);
        Assert.Equal(["./check.sh", "--quick"], o.Preflight[0].Command);
        Assert.Equal(TimeSpan.FromSeconds(60), o.Preflight[0].Timeout);
        Assert.Equal(["./migrate.sh", "--dry-run", "two words"], o.Preflight[1].Command);
        Assert.Equal(["./warmup.sh"], o.Preflight[2].Command);
        Assert.Equal(TimeSpan.FromMinutes(2), o.Preflight[2].Timeout);
        Assert.Equal(TimeSpan.FromSeconds(45), o.DrainTimeout);
        Assert.Equal(["./probe.sh", "${AETERNA_GENERATION}"], o.Canary.Probe!.Command);
        Assert.Equal(new ProbeConfig(o.Canary.Probe.Command, TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(2)), o.Canary.Probe);
        Assert.Equal(new CanaryConfig(false, TimeSpan.Zero, 5, 0.025, 100, TimeSpan.FromSeconds(3), o.Canary.Probe), o.Canary);
        Assert.Equal(new StateHandoffConfig(true, Path.Combine(_dir, "run/srp.sock"), HandoffMechanism.Shm, TimeSpan.FromSeconds(1.5), 256L << 20,
            Path.Combine(_dir, "app/Agent.relay.json"), TimeSpan.FromSeconds(30), Path.Combine(_dir, "state/agent.checkpoint")), o.StateHandoff);
        Assert.Equal(new RestartConfig(TimeSpan.FromMilliseconds(200), TimeSpan.FromHours(1)), o.Restart);

        Assert.Equal(Path.Combine(_dir, "run/control.sock"), c.Control.SocketPath);
        Assert.Equal(new ObservabilityConfig("127.0.0.1:9090", LogLevel.Warn, LogFormat.Json, Path.Combine(_dir, "history/relays.jsonl")), c.Observability);
        Assert.True(c.Watch.Config);
        Assert.Equal([Path.Combine(_dir, "app"), "/tmp/aeterna-tests/current"], c.Watch.Paths);
        Assert.Equal(TimeSpan.FromMilliseconds(500), c.Watch.Debounce);
    }

    [Fact]
    public void TheExampleWithEveryKeyHasEveryKeyOfTheTable()
    {
        var written = new HashSet<string>(StringComparer.Ordinal);
        void Walk(YamlDotNet.RepresentationModel.YamlNode node, string path)
        {
            if (node is YamlDotNet.RepresentationModel.YamlMappingNode mapping)
                foreach (var (key, value) in mapping.Children)
                {
                    string name = ((YamlDotNet.RepresentationModel.YamlScalarNode)key).Value!;
                    string child = path.Length == 0 ? name : $"{path}.{name}";
                    written.Add(child);
                    Walk(value, child);
                }
            else if (node is YamlDotNet.RepresentationModel.YamlSequenceNode list)
                foreach (var item in list.Children) Walk(item, path);
        }
        var stream = new YamlDotNet.RepresentationModel.YamlStream();
        stream.Load(new StringReader(EveryKey));
        Walk(stream.Documents[0].RootNode, "");
        var missing = ConfigTable.Sections.SelectMany(s => s.Keys.Select(k => s.Path.Length == 0 ? k.Name : $"{s.Path}.{k.Name}"))
            .Where(k => !written.Contains(k) && k != "handoff").ToList();
        Assert.True(missing.Count == 0, "every-key.yaml lacks " + string.Join(", ", missing));
    }

    [Fact]
    public void MinimalConfigGetsTheDefaults()
    {
        var c = Valid("service:\n  command: ./app --serve\n");
        Assert.Equal(["./app", "--serve"], c.Service.Command);
        Assert.Empty(c.Service.Environment);
        // The defaults, as docs/configuration.md gives them.
        Assert.Equal(DefaultReadiness, c.Readiness);
        Assert.Equal(new CanaryConfig(true, TimeSpan.FromSeconds(10), 3, 0.1, 20, TimeSpan.FromSeconds(5), null), c.Orchestration.Canary);
        string runtime = Path.GetDirectoryName(c.Control.SocketPath)!;
        Assert.Equal(new StateHandoffConfig(true, Path.Combine(runtime, "aeterna.sock"), HandoffMechanism.Auto, TimeSpan.FromSeconds(5), 1L << 30, null, TimeSpan.Zero, null), c.Orchestration.StateHandoff);
        Assert.True(c.Orchestration.StateHandoff.Enabled); // state an app registers must not be dropped silently
        Assert.Equal(new RestartConfig(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(30)), c.Orchestration.Restart);
        Assert.Equal(TimeSpan.FromSeconds(30), c.Orchestration.DrainTimeout);
        Assert.Empty(c.Orchestration.Preflight);
        Assert.Equal(new ObservabilityConfig(null, LogLevel.Info, LogFormat.Text, Path.Combine(runtime, "relays.jsonl")), c.Observability);
        Assert.Equal(new WatchConfig(false, [], TimeSpan.FromSeconds(2)), c.Watch);
    }

    [Fact]
    public void PathsBesideTheControlSocketMoveWithIt()
    {
        var c = Valid("service:\n  command: [app]\ncontrol:\n  socket_path: run/control.sock\norchestration:\n  canary: {soak_time: 1s}\n");
        Assert.Equal(Path.Combine(_dir, "run", "aeterna.sock"), c.Orchestration.StateHandoff.SocketPath);
        Assert.Equal(Path.Combine(_dir, "run", "relays.jsonl"), c.Observability.HistoryPath);

        c = Valid("service:\n  command: [app]\nhandoff:\n  mechanism: pipe\ncontrol:\n  socket_path: /tmp/aeterna-tests/c.sock\n");
        Assert.Equal("/tmp/aeterna-tests/aeterna.sock", c.Orchestration.StateHandoff.SocketPath);
    }

    [Theory]
    [InlineData("\":9090\"", ":9090")]
    [InlineData("\"127.0.0.1:9090\"", "127.0.0.1:9090")]
    [InlineData("\"[::1]:9090\"", "[::1]:9090")]
    [InlineData("\"metrics.local:9090\"", "metrics.local:9090")]
    [InlineData("9090", "9090")]
    [InlineData("\"9090\"", "9090")]
    public void MetricsPortAcceptsEveryDocumentedForm(string written, string stored)
    {
        var c = Valid($"service:\n  command: [app]\nobservability:\n  metrics_port: {written}\n");
        Assert.Equal(stored, c.Observability.MetricsAddress);
    }

    [Fact]
    public void TopLevelHandoffCanBeDisabledExplicitly()
    {
        var c = Valid("service:\n  command: [app]\nhandoff:\n  enabled: FALSE\n  mechanism: shm\n");
        Assert.False(c.Orchestration.StateHandoff.Enabled);
        Assert.Equal(HandoffMechanism.Shm, c.Orchestration.StateHandoff.Mechanism);
    }

    [Fact]
    public void LoadReadsTheFileAndParseMakesThePathAbsolute()
    {
        File.WriteAllText(_file, MinimalExample);
        var loaded = ConfigLoader.Load(_file);
        Assert.True(loaded.Success, string.Join("\n", loaded.Errors));
        Assert.Equal(_file, loaded.Config!.SourcePath);

        string relative = Path.GetRelativePath(Environment.CurrentDirectory, _file);
        Assert.Equal(_file, ConfigLoader.Parse(MinimalExample, relative).Config!.SourcePath);
    }

    [Fact]
    public void HistoryPathIsResolvedAgainstTheConfigAndDefaultsToBesideTheControlSocket()
    {
        var relative = ConfigLoader.Parse("service:\n  command: [app]\nobservability:\n  history_path: var/relays.jsonl\n", "/srv/agent/aeterna.yaml");
        Assert.True(relative.Success, string.Join('\n', relative.Errors));
        Assert.Equal("/srv/agent/var/relays.jsonl", relative.Config!.Observability.HistoryPath);

        var absent = ConfigLoader.Parse("service:\n  command: [app]\n", "/srv/agent/aeterna.yaml");
        Assert.Equal(Path.Combine(Path.GetDirectoryName(absent.Config!.Control.SocketPath)!, "relays.jsonl"), absent.Config.Observability.HistoryPath);
    }

    [Fact]
    public void HistoryPathThatIsADirectoryOrMisspeltIsAnErrorWithTheFix()
    {
        using var dir = new TempDirectory();
        var directory = ConfigLoader.Parse($"service:\n  command: [app]\nobservability:\n  history_path: {dir.Path}\n", dir.File("aeterna.yaml"));
        var error = Assert.Single(directory.Errors);
        Assert.Equal((4, 17), (error.Line, error.Column));
        Assert.Contains("is a directory", error.Message);
        Assert.Contains("relays.jsonl", error.Fix);

        var misspelt = ConfigLoader.Parse("service:\n  command: [app]\nobservability:\n  history: /tmp/r.jsonl\n", dir.File("aeterna.yaml"));
        Assert.Contains("Did you mean 'history_path'?", Assert.Single(misspelt.Errors).Fix);
    }

    // ---- errors ----

    [Fact]
    public void ErrorPrintsFileLineColumnMessageAndFix()
    {
        var error = new ConfigError("/etc/aeterna.yaml", 3, 5, "unknown key 'comand' in 'service'.", "Did you mean 'command'?");
        Assert.Equal("/etc/aeterna.yaml:3:5: error: unknown key 'comand' in 'service'. Fix: Did you mean 'command'?", error.ToString());
    }

    [Fact]
    public void UnknownTopLevelKeySuggestsTheClosestKey()
    {
        var error = SingleError("service:\n  command: [app]\nobservabilty:\n  log_level: info\n");
        AssertAt(error, 3, 1);
        Assert.Equal(_file, error.File);
        Assert.Contains("'observabilty'", error.Message);
        Assert.Contains("Did you mean 'observability'?", error.Fix);
    }

    [Fact]
    public void UnknownKeyWithNothingCloseListsTheValidKeys()
    {
        var error = SingleError("service:\n  command: [app]\n  restart_policy: always\n");
        AssertAt(error, 3, 3);
        Assert.Contains("'restart_policy'", error.Message);
        Assert.Contains("name, command, env, working_dir", error.Fix);
    }

    [Fact]
    public void UnknownNestedKeyIsReportedWhereItIs()
    {
        var error = SingleError("service:\n  command: [app]\norchestration:\n  canary:\n    enabled: true\n    soak_tim: 30s\n");
        AssertAt(error, 6, 5);
        Assert.Contains("'soak_tim'", error.Message);
        Assert.Contains("orchestration.canary", error.Message);
        Assert.Contains("'soak_time'", error.Fix);
    }

    [Fact]
    public void KeyInTheWrongSectionSaysWhereItBelongs()
    {
        var error = SingleError("service:\n  command: [app]\n  log_level: debug\n");
        AssertAt(error, 3, 3);
        Assert.Contains("'observability'", error.Fix);
    }

    [Fact]
    public void WrongKindNamesTheExpectedKind()
    {
        var error = SingleError("service:\n  name: {first: a}\n  command: [app]\n");
        AssertAt(error, 2, 9);
        Assert.Contains("service.name", error.Message);
        Assert.Contains("must be a string", error.Message);
        Assert.Contains("a mapping", error.Message);
        Assert.Contains("name: agent-core", error.Fix);

        error = SingleError("service:\n  command: [app]\nlisteners:\n  name: http\n");
        AssertAt(error, 4, 3);
        Assert.Contains("listeners must be a list", error.Message);
    }

    [Theory]
    [InlineData("30", "has no unit", "30s")]
    [InlineData("-5s", "negative", "positive")]
    [InlineData("soon", "not a duration", "30s")]
    [InlineData("5 minutes", "not a unit", "ms, s, m or h")]
    [InlineData("1h30", "has no unit", "30s")]
    [InlineData("99999999999999999999999999h", "too long", "few hours")]
    [InlineData("25h", "longer than 24h", "at most 24h")]
    [InlineData("0s", "more than 0", "timeout: 30s")]
    public void BadDurationsAreLocatedAndExplained(string written, string problem, string fix)
    {
        var error = SingleError($"service:\n  command: [app]\nreadiness:\n  timeout: {written}\n");
        AssertAt(error, 4, 12);
        Assert.Contains("readiness.timeout", error.Message);
        Assert.Contains(problem, error.Message);
        Assert.Contains(fix, error.Fix);
    }

    [Theory]
    [InlineData("tcp://0.0.0.0", "has no port", ":8080")]
    [InlineData("udp://dns.local", "has no port", "udp://dns.local:8080")]
    [InlineData("tcp://0.0.0.0:", "no port after", "0.0.0.0:8080")]
    [InlineData("tcp://0.0.0.0:http", "not a port number", "0 to 65535")]
    [InlineData("tcp://0.0.0.0:70000", "out of range", "0 to 65535")]
    [InlineData("tcp://0.0.0.0:80/api", "not a port number", "Remove everything after the port")]
    [InlineData("tcp://[::1:8080", "never closed", "tcp://[::1]:8080")]
    [InlineData("tcp://[::1]8080", "where ':PORT' belongs", "tcp://[::1]:8080")]
    [InlineData("tcp://[::1]", "has no port", "[::1]:8080")]
    [InlineData("tcp://[localhost]:80", "not an IPv6 address", "[::1]:8080")]
    [InlineData("tcp://[10.0.0.1]:80", "not an IPv6 address", "without brackets")]
    [InlineData("tcp://::1:8080", "without brackets", "tcp://[::1]:8080")]
    [InlineData("tcp://:8080", "has no host", "tcp://0.0.0.0:8080")]
    [InlineData("tcp://300.1.2.3:80", "not a valid IPv4 address", "IPv4")]
    [InlineData("tcp://bad_host!:80", "not a valid host name", "DNS name")]
    [InlineData("udp://[::1]:99999", "out of range", "0 to 65535")]
    [InlineData("unix://run/app.sock", "relative path", "unix:///run/app.sock")]
    [InlineData("tcp:/0.0.0.0:80", "needs '://'", "tcp://0.0.0.0:80")]
    [InlineData("unix:/run/app.sock", "needs '://'", "unix:///run/app.sock")]
    [InlineData("unix://", "no path", "three slashes")]
    [InlineData("unix:///run/app/", "directory", "app.sock")]
    [InlineData("unix://@abstract", "abstract", "filesystem path")]
    [InlineData("http://0.0.0.0:80", "not a supported scheme", "tcp://")]
    [InlineData("0.0.0.0:8080", "no scheme", "tcp://0.0.0.0:8080")]
    [InlineData("/run/app.sock", "no scheme", "unix:///run/app.sock")]
    public void BadListenerAddressesAreLocatedAndExplained(string address, string problem, string fix)
    {
        var error = SingleError($"service:\n  command: [app]\nlisteners:\n  - name: http\n    address: \"{address}\"\n");
        AssertAt(error, 5, 14);
        Assert.Contains("listeners[0].address", error.Message);
        Assert.Contains(problem, error.Message);
        Assert.Contains(fix, error.Fix);
    }

    [Fact]
    public void UnixListenerPathLongerThanSunPathIsAnError()
    {
        string path = "/tmp/" + new string('x', 103); // 108 bytes
        var error = SingleError($"service:\n  command: [app]\nlisteners:\n  - name: local\n    address: unix://{path}\n");
        AssertAt(error, 5, 14);
        Assert.Contains("108 bytes", error.Message);
        Assert.Contains("at most 107", error.Message);
        Assert.Contains("shorter path", error.Fix);

        Valid($"service:\n  command: [app]\nlisteners:\n  - name: local\n    address: unix://{path[..^1]}\n"); // 107 bytes is fine
    }

    [Fact]
    public void ListenerNamesMustBeUniqueAndValid()
    {
        var error = SingleError("service:\n  command: [app]\nlisteners:\n  - name: http\n    address: tcp://0.0.0.0:80\n  - name: http\n    address: tcp://0.0.0.0:81\n");
        AssertAt(error, 6, 11);
        Assert.Contains("'http'", error.Message);
        Assert.Contains("line 4", error.Message);

        error = SingleError("service:\n  command: [app]\nlisteners:\n  - name: \"a:b\"\n    address: tcp://0.0.0.0:80\n");
        AssertAt(error, 4, 11);
        Assert.Contains("no ':'", error.Fix);

        error = SingleError("service:\n  command: [app]\nlisteners:\n  - address: tcp://0.0.0.0:80\n");
        AssertAt(error, 4, 5);
        Assert.Contains("has no 'name'", error.Message);
    }

    [Fact]
    public void ListenerAddressesMustBeUnique()
    {
        var error = SingleError("service:\n  command: [app]\nlisteners:\n  - name: a\n    address: tcp://0.0.0.0:80\n  - name: b\n    address: TCP://0.0.0.0:80\n");
        AssertAt(error, 7, 14);
        Assert.Contains("same address as listener 'a'", error.Message);

        // Port 0 asks the kernel for a free port: two of those don't clash; tcp and udp don't either.
        Valid("service:\n  command: [app]\nlisteners:\n  - name: a\n    address: tcp://127.0.0.1:0\n  - name: b\n    address: tcp://127.0.0.1:0\n  - name: c\n    address: udp://127.0.0.1:0\n");
        Valid("service:\n  command: [app]\nlisteners:\n  - name: a\n    address: tcp://0.0.0.0:53\n  - name: b\n    address: udp://0.0.0.0:53\n");
    }

    [Fact]
    public void BacklogIsCheckedAndRefusedForUdp()
    {
        var error = SingleError("service:\n  command: [app]\nlisteners:\n  - name: dns\n    address: udp://0.0.0.0:53\n    backlog: 128\n");
        AssertAt(error, 6, 14);
        Assert.Contains("udp", error.Message);
        Assert.Contains("Remove backlog", error.Fix);

        error = SingleError("service:\n  command: [app]\nlisteners:\n  - name: http\n    address: tcp://0.0.0.0:80\n    backlog: 99999999999999999999999\n");
        AssertAt(error, 6, 14);
        Assert.Contains("listeners[0].backlog", error.Message);
        Assert.Contains("1 to 65535", error.Message);
    }

    [Fact]
    public void BadEnumValuesListTheAllowedValues()
    {
        var error = SingleError("service:\n  command: [app]\nreadiness:\n  mode: fast\n");
        AssertAt(error, 4, 9);
        Assert.Contains("readiness.mode", error.Message);
        Assert.Contains("auto, notify, listening, delay", error.Message);

        error = SingleError("service:\n  command: [app]\nreadiness:\n  mode: notfy\n");
        Assert.Contains("Did you mean 'notify'?", error.Fix);

        error = SingleError("service:\n  command: [app]\norchestration:\n  strategy: rolling\n");
        AssertAt(error, 4, 13);
        Assert.Contains("hot-relay", error.Message);

        error = SingleError("service:\n  command: [app]\nobservability:\n  log_level: verbose\n");
        Assert.Contains("debug, info, warn, warning, error", error.Message);
    }

    [Fact]
    public void BooleansAreTrueOrFalseOnly()
    {
        var error = SingleError("service:\n  command: [app]\norchestration:\n  canary:\n    enabled: yes\n");
        AssertAt(error, 5, 14);
        Assert.Contains("orchestration.canary.enabled", error.Message);
        Assert.Contains("enabled: true or enabled: false", error.Fix);
    }

    [Fact]
    public void MissingServiceIsAnError()
    {
        var error = SingleError("version: \"1.0\"\nreadiness:\n  mode: auto\n");
        AssertAt(error, 1, 1);
        Assert.Contains("'service'", error.Message);
        Assert.Contains("command:", error.Fix);
    }

    [Fact]
    public void MissingCommandIsReportedAtTheServiceKey()
    {
        var error = SingleError("version: \"1.0\"\nservice:\n  name: agent\n");
        AssertAt(error, 2, 1);
        Assert.Contains("'command'", error.Message);
        Assert.Contains("command: [", error.Fix);
    }

    [Theory]
    [InlineData("[]", "is empty")]
    [InlineData("\"\"", "is empty")]
    [InlineData("\"   \"", "is empty")]
    [InlineData("[\"\", \"x\"]", "program name")]
    [InlineData("", "is empty")]
    public void EmptyCommandIsAnError(string command, string problem)
    {
        var error = SingleError($"service:\n  command: {command}\n");
        AssertAt(error, 2, command.Length == 0 ? 3 : 12);
        Assert.Contains("service.command", error.Message);
        Assert.Contains(problem, error.Message);
    }

    [Fact]
    public void CommandStringWithShellSyntaxIsAnError()
    {
        var error = SingleError("service:\n  command: python app.py > out.log\n");
        AssertAt(error, 2, 12);
        Assert.Contains("'>'", error.Message);
        Assert.Contains("sh", error.Fix);

        error = SingleError("service:\n  command: [app, [nested]]\n");
        AssertAt(error, 2, 18);
        Assert.Contains("must be a string", error.Message);
        Assert.Contains("command: [\"python\", \"agent.py\"]", error.Fix);
    }

    [Fact]
    public void BothHandoffSpellingsAreAnError()
    {
        var error = SingleError("service:\n  command: [app]\norchestration:\n  state_handoff:\n    enabled: true\nhandoff:\n  mechanism: pipe\n");
        AssertAt(error, 6, 1);
        Assert.Contains("line 4", error.Message);
        Assert.Contains("Keep orchestration.state_handoff", error.Fix);
        Assert.Contains("delete 'handoff'", error.Fix);
    }

    [Fact]
    public void YamlSyntaxErrorsAreLocated()
    {
        var error = SingleError("service:\n  command: [app]\n  name: a: b\n");
        AssertAt(error, 3, 10);
        Assert.Contains("YAML syntax error", error.Message);
        Assert.Contains("Quote values", error.Fix);

        error = SingleError("service:\n  command: [app]\n  name: \"agent\n");
        AssertAt(error, 3, 9);
        Assert.Contains("Close the quote", error.Fix);

        error = SingleError("service:\n  name: a\n\tcommand: [app]\n");
        AssertAt(error, 3, 1);
        Assert.Contains("tabs", error.Fix);

        // YamlDotNet itself throws without a position here; the error points at the open bracket.
        error = SingleError("service:\n  command: [app, --x\n  name: agent\n");
        AssertAt(error, 2, 12);
        Assert.Contains("never closed", error.Message);
    }

    [Theory]
    [InlineData("")]
    [InlineData("\n\n")]
    [InlineData("# only a comment\n")]
    [InlineData("---\n")]
    [InlineData("~\n")]
    public void EmptyFileIsAnError(string yaml)
    {
        var error = SingleError(yaml);
        AssertAt(error, 1, 1);
        Assert.Contains("empty", error.Message);
        Assert.Contains("service:", error.Fix);
    }

    [Fact]
    public void TopLevelListOrValueIsAnError()
    {
        var error = SingleError("- service:\n    command: [app]\n");
        AssertAt(error, 1, 1);
        Assert.Contains("is a list", error.Message);
        Assert.Contains("Remove the leading '- '", error.Fix);

        error = SingleError("just some text\n");
        AssertAt(error, 1, 1);
        Assert.Contains("single value", error.Message);
    }

    [Fact]
    public void DuplicateKeysAreErrorsAndTheRestIsStillChecked()
    {
        var result = Parse("service:\n  command: [app]\n  name: a\n  name: b\nreadiness:\n  mode: fast\n");
        Assert.False(result.Success);
        Assert.Equal(2, result.Errors.Count);
        AssertAt(result.Errors[0], 4, 3);
        Assert.Contains("duplicate key 'name'", result.Errors[0].Message);
        Assert.Contains("line 3", result.Errors[0].Message);
        AssertAt(result.Errors[1], 6, 9);
    }

    [Fact]
    public void MultipleErrorsAreReportedTogetherInFileOrder()
    {
        var result = Parse("""
            service:
              command: [app]
              comand: [app]
              env: ["1BAD=x", "NOEQUALS", "OK=1", "OK=2"]
            listeners:
              - name: http
                address: tcp://0.0.0.0
            readiness:
              timeout: 30
            orchestration:
              canary:
                soak_time: 0s
              restart:
                backoff_initial: 1m
                backoff_max: 10s
            control:
              socket_path: ./run/control.sock
            observability:
              log_format: xml
            """);
        Assert.False(result.Success);
        var where = result.Errors.Select(e => (e.Line, e.Column)).ToList();
        Assert.Equal([(3, 3), (4, 9), (4, 19), (4, 39), (7, 14), (9, 12), (12, 16), (15, 18), (19, 15)], where);
        Assert.Contains("not a valid variable name", result.Errors[1].Message);
        Assert.Contains("has no '='", result.Errors[2].Message);
        Assert.Contains("OK twice", result.Errors[3].Message);
        Assert.Contains("soak_time is 0", result.Errors[6].Message);
        Assert.Contains("backoff_max (10s) is less than backoff_initial (1m)", result.Errors[7].Message);
    }

    [Fact]
    public void OtherSemanticChecks()
    {
        var error = SingleError("version: \"2\"\nservice:\n  command: [app]\n");
        AssertAt(error, 1, 10);
        Assert.Contains("version '2'", error.Message);

        error = SingleError("service:\n  command: [app]\n  working_dir: ./missing\n");
        AssertAt(error, 3, 16);
        Assert.Contains("does not exist", error.Message);

        error = SingleError("service:\n  command: [app]\n  env:\n    NOTIFY_SOCKET: /tmp/x\n");
        AssertAt(error, 4, 5);
        Assert.Contains("supervisor sets", error.Message);

        error = SingleError("service:\n  command: [app]\nreadiness:\n  mode: listening\n");
        AssertAt(error, 4, 9);
        Assert.Contains("no listeners", error.Message);

        error = SingleError("service:\n  command: [app]\n  name: \"bad name\"\n");
        AssertAt(error, 3, 9);
        Assert.Contains("service.name", error.Message);

        error = SingleError("service:\n  command: [app]\nobservability:\n  metrics_port: \":99999\"\n");
        AssertAt(error, 4, 17);
        Assert.Contains("metrics_port", error.Message);

        error = SingleError($"service:\n  command: [app]\ncontrol:\n  socket_path: /tmp/{new string('c', 90)}/control.sock\n");
        AssertAt(error, 4, 16);
        Assert.Contains("bytes", error.Message);

        error = SingleError("service:\n  command: [app]\norchestration:\n  preflight:\n    - run: ./check.sh\n      timeout: 5s\n    - {timeout: 5s}\n");
        Assert.Contains("orchestration.preflight[1] has no 'run'", error.Message);
    }

    [Fact]
    public void AliasesResolveAndUndefinedOnesAreErrors()
    {
        var c = Valid("service:\n  command: &cmd [app, --serve]\norchestration:\n  preflight:\n    - *cmd\n");
        Assert.Equal(["app", "--serve"], c.Orchestration.Preflight[0].Command);

        var error = SingleError("service:\n  command: *nothing\n");
        AssertAt(error, 2, 12);
        Assert.Contains("*nothing", error.Message);
    }

    [Fact]
    public void PathologicalInputIsAnErrorNotACrash()
    {
        var error = SingleError("service:\n  command: " + new string('[', 100_000) + "\n");
        Assert.Contains("nests more than", error.Message);

        error = SingleError("service:\n  command: [app]\n  ? [complex, key]\n  : value\n");
        AssertAt(error, 3, 5);
        Assert.Contains("keys must be plain names", error.Message);

        error = Parse(new string('{', 50_000)).Errors[^1]; // skipped as a bad key, still depth-limited (and fast)
        Assert.Contains("nests more than", error.Message);

        var result = Parse("a: &a [*a, *a]\nservice:\n  command: &c [*c]\n");
        Assert.False(result.Success); // self-referencing alias: reported, not followed forever

        Valid("\uFEFFservice:\n  command: [app]\n"); // a byte order mark is not part of the first key
    }

    [Fact]
    public void ThousandsOfErrorsAreCapped()
    {
        var result = Parse(string.Concat(Enumerable.Repeat("service:\n  command: [app]\n", 500)));
        Assert.Equal(ConfigLoader.MaxErrors + 1, result.Errors.Count);
        Assert.Contains("399 more errors", result.Errors[^1].Message);
        AssertAt(result.Errors[^1], 2 * (ConfigLoader.MaxErrors + 1) + 1, 1);
    }

    [Fact]
    public void LoadReportsMissingUnreadableAndBinaryFiles()
    {
        string missing = Path.Combine(_dir, "nope.yaml");
        var error = Assert.Single(ConfigLoader.Load(missing).Errors);
        Assert.Equal(missing, error.File);
        AssertAt(error, 1, 1);
        Assert.Contains(missing, error.Message);
        Assert.Contains("-c", error.Fix);

        error = Assert.Single(ConfigLoader.Load(_dir).Errors);
        Assert.Contains("is a directory", error.Message);

        string binary = Path.Combine(_dir, "binary.yaml");
        File.WriteAllBytes(binary, [.. "service:\n  name: "u8, 0xC3, 0x28, 0xFF, (byte)'\n']);
        error = Assert.Single(ConfigLoader.Load(binary).Errors);
        AssertAt(error, 2, 9);
        Assert.Contains("UTF-8", error.Message);

        string big = Path.Combine(_dir, "big.yaml");
        File.WriteAllBytes(big, new byte[ConfigLoader.MaxFileBytes + 1]);
        Assert.Contains("larger than", Assert.Single(ConfigLoader.Load(big).Errors).Message);
        // A device has no size to go by: it is read up to the limit, then refused.
        Assert.Contains("larger than", Assert.Single(ConfigLoader.Load("/dev/zero").Errors).Message);
    }

    [Fact]
    public async Task LoadReadsAFileOfExactlyTheLimitAndOneThatComesThroughAPipe()
    {
        string yaml = "service:\n  command: [app]\n";
        string limit = Path.Combine(_dir, "limit.yaml");
        File.WriteAllText(limit, yaml + "#" + new string('x', ConfigLoader.MaxFileBytes - yaml.Length - 2) + "\n");
        Assert.Equal(ConfigLoader.MaxFileBytes, new FileInfo(limit).Length);
        Assert.True(ConfigLoader.Load(limit).Success);

        // A FIFO reports no length: the loader reads what comes until the writer closes.
        string fifo = Path.Combine(_dir, "fifo.yaml");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", [fifo])) mkfifo.WaitForExit();
        string body = yaml + new string('#', 10_000) + "\n";
        var writer = Task.Run(() => File.WriteAllText(fifo, body));
        var loaded = await Task.Run(() => ConfigLoader.Load(fifo));
        await writer;
        Assert.True(loaded.Success, string.Join('\n', loaded.Errors));
        Assert.Equal(["app"], loaded.Config!.Service.Command);
    }

    // ---- robustness ----

    [Fact]
    public void RandomMutationsOfAValidFileNeverThrowAndAlwaysLocateTheirErrors()
    {
        const string Alphabet = " \n\t:-[]{}\"'#&*!|>%@`,?~.0123456789abcdefghijklmnopqrstuvwxyz_/\\=é\u00a0\uFEFF\0\u0001";
        var random = new Random(20240601);
        string[] lines = EveryKey.Split('\n');
        int iterations = 0, mutations = 0, valid = 0;
        while (mutations < 20_000)
        {
            var current = new List<string>(lines);
            int count = random.Next(1, 4);
            for (int m = 0; m < count; m++, mutations++)
            {
                int li = random.Next(current.Count);
                string line = current[li];
                int ci = random.Next(line.Length + 1);
                char c = Alphabet[random.Next(Alphabet.Length)];
                switch (random.Next(8))
                {
                    case 0 when line.Length > 0: current[li] = line.Remove(Math.Min(ci, line.Length - 1), 1); break;
                    case 1: current[li] = line.Insert(ci, c.ToString()); break;
                    case 2 when line.Length > 0: current[li] = string.Concat(line.AsSpan(0, Math.Min(ci, line.Length - 1)), c.ToString(), line.AsSpan(Math.Min(ci, line.Length - 1) + 1)); break;
                    case 3: (current[li], current[random.Next(current.Count)]) = (current[random.Next(current.Count)], current[li]); break;
                    case 4: current.Insert(li, line); break;
                    case 5 when current.Count > 1: current.RemoveAt(li); break;
                    case 6: current[li] = "  " + line; break;
                    default: current[li] = line.TrimStart(); break;
                }
            }
            string yaml = string.Join('\n', current);
            ConfigLoadResult result;
            try
            {
                result = Parse(yaml);
            }
            catch (Exception e)
            {
                Assert.Fail($"Parse threw {e} for:\n{yaml}");
                throw;
            }
            iterations++;
            if (result.Success)
            {
                valid++;
                Assert.NotNull(result.Config);
                Assert.Empty(result.Errors);
                continue;
            }
            Assert.Null(result.Config);
            Assert.NotEmpty(result.Errors);
            foreach (var error in result.Errors)
            {
                Assert.Equal(_file, error.File);
                Assert.True(error.Line >= 1 && error.Column >= 1, $"{error} for:\n{yaml}");
                Assert.True(error.Line <= current.Count + 1, $"{error} is past the end of:\n{yaml}");
                Assert.False(string.IsNullOrWhiteSpace(error.Message), $"{error} for:\n{yaml}");
                Assert.False(string.IsNullOrWhiteSpace(error.Fix), $"{error} for:\n{yaml}");
                Assert.DoesNotContain("internal error", error.Message);
                Assert.DoesNotContain('\n', error.ToString()); // one line per error, like a compiler
            }
        }
        Assert.InRange(valid, 1, iterations - 1); // both outcomes were exercised
    }

    [Fact]
    public void BinaryGarbageNeverThrows()
    {
        var random = new Random(7);
        for (int i = 0; i < 500; i++)
        {
            var text = new StringBuilder();
            int length = random.Next(0, 400);
            for (int j = 0; j < length; j++) text.Append((char)random.Next(0, 0x3000));
            var result = Parse(text.ToString());
            Assert.All(result.Errors, e => Assert.True(e.Line >= 1 && e.Column >= 1 && e.Message.Length > 0 && e.Fix.Length > 0));
        }
    }

    [Fact]
    public void ABackoffLeftAtItsDefaultIsNamedAsTheDefault()
    {
        var error = SingleError("service:\n  command: [app]\norchestration:\n  restart:\n    backoff_initial: 1m\n");
        Assert.Equal("orchestration.restart.backoff_max (30s, the default) is less than backoff_initial (1m).", error.Message);
        AssertAt(error, 5, 22);
    }

    // ---- default control socket ----

    [Fact]
    public void DefaultControlSocketIsDeterministicPerConfigPath()
    {
        string a = ControlSocketPath.Default("/srv/a/aeterna.yaml", "/run/user/1000", 1000);
        Assert.Equal(a, ControlSocketPath.Default("/srv/a/aeterna.yaml", "/run/user/1000", 1000));
        Assert.Equal(a, ControlSocketPath.Default("/srv/a/./aeterna.yaml", "/run/user/1000", 1000)); // same file
        Assert.NotEqual(a, ControlSocketPath.Default("/srv/b/aeterna.yaml", "/run/user/1000", 1000));
        Assert.Matches(@"^/run/user/1000/aeterna-1000/aeterna-[0-9a-f]{8}/control\.sock$", a);
        // The first 8 hex digits of the 64-bit FNV-1a of the path (docs/configuration.md), d2af186afe52bd31.
        Assert.Equal("/run/user/1000/aeterna-1000/aeterna-d2af186a/control.sock", a);
    }

    [Fact]
    public void DefaultControlSocketFallsBackToTmp()
    {
        Assert.Matches(@"^/tmp/aeterna-0/a-[0-9a-f]{8}/control\.sock$", ControlSocketPath.Default("/srv/a.yaml", null, 0));
        Assert.Matches(@"^/tmp/aeterna-0/a-[0-9a-f]{8}/control\.sock$", ControlSocketPath.Default("/srv/a.yaml", "relative/dir", 0));

        // Too long for sun_path: a short path of its own under /tmp.
        string deep = "/run/" + new string('d', 80);
        string path = ControlSocketPath.Default("/srv/a.yaml", deep, 1000);
        Assert.Matches(@"^/tmp/aeterna-1000/[0-9a-f]{16}/control\.sock$", path);
        Assert.NotEqual(path, ControlSocketPath.Default("/srv/b.yaml", deep, 1000));
    }

    [Fact]
    public void DefaultControlSocketDependsOnTheFileOnly()
    {
        // Editing the file (even into an invalid one) must not move the socket: status and stop
        // have to find the supervisor while its config is being changed.
        var c = Valid("service:\n  name: web\n  command: [app]\n");
        Assert.Matches(@"/aeterna-\d+/[A-Za-z0-9_.-]+-[0-9a-f]{8}/control\.sock$", c.Control.SocketPath);
        Assert.Equal(c.Control.SocketPath, Valid("service:\n  name: api\n  command: [other]\n").Control.SocketPath);
        var invalid = ConfigLoader.Parse("service:\n  command: [app]\n  bogus: 1\n", _file);
        Assert.False(invalid.Success);
        Assert.Equal(c.Control.SocketPath, invalid.ControlSocketPath);
    }
}
