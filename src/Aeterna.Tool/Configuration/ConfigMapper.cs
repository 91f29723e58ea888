using Aeterna.Addresses;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Aeterna.Tool.Configuration;

/// <summary>
/// Maps the YAML tree of one file onto <see cref="AeternaConfig"/> by hand, key by key, so each
/// value keeps its place in the file for errors. Invalid values are reported and replaced by
/// defaults so that mapping continues; the caller discards the result when there are errors.
/// </summary>
internal sealed partial class ConfigMapper(string sourcePath, NodeReader reader)
{
    private static readonly (string, ReadinessMode)[] ReadinessModes =
        [("auto", ReadinessMode.Auto), ("notify", ReadinessMode.Notify), ("listening", ReadinessMode.Listening), ("delay", ReadinessMode.Delay)];

    private static readonly (string, HandoffMechanism)[] Mechanisms =
        [("auto", HandoffMechanism.Auto), ("pipe", HandoffMechanism.Pipe), ("shm", HandoffMechanism.Shm)];

    private static readonly (string, LogLevel)[] LogLevels =
        [("debug", LogLevel.Debug), ("info", LogLevel.Info), ("warn", LogLevel.Warn), ("warning", LogLevel.Warn), ("error", LogLevel.Error)];

    private static readonly (string, LogFormat)[] LogFormats = [("text", LogFormat.Text), ("json", LogFormat.Json)];

    private static readonly (string, string)[] Strategies = [("hot-relay", "hot-relay")];

    /// <summary>Set by the supervisor for every generation; a value from the config would be overridden or would confuse the app.</summary>
    private static readonly string[] ReservedVariables =
        ["LISTEN_FDS", "LISTEN_FDNAMES", "LISTEN_PID", "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "AETERNA_GENERATION", "AETERNA_SUPERVISOR_PID", "AETERNA_SOCKET", "AETERNA_TOKEN"];

    [GeneratedRegex("^[A-Za-z0-9_.-]{1,64}$")]
    private static partial Regex ServiceNamePattern();

    [GeneratedRegex("^[A-Za-z0-9_.-]{1,255}$")]
    private static partial Regex ListenerNamePattern();

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]*$")]
    private static partial Regex VariablePattern();

    private string BaseDirectory => Path.GetDirectoryName(sourcePath)!;

    public AeternaConfig Map(YamlNode rootNode)
    {
        var root = reader.Section(rootNode, "", rootNode.Start, ConfigSchema.Root)
            ?? new YamlSection("", rootNode.Start, new Dictionary<string, YamlEntry>());

        CheckVersion(root);
        var service = MapService(root);
        var listeners = MapListeners(root);
        var readiness = MapReadiness(root);
        var orchestration = MapOrchestration(root);
        var control = MapControl(root, listeners);
        var observability = MapObservability(root);
        var watch = MapWatch(root);
        return new AeternaConfig
        {
            Watch = watch,
            SourcePath = sourcePath,
            Service = service,
            Listeners = listeners,
            Readiness = readiness,
            Orchestration = orchestration,
            Control = control,
            Observability = observability,
        };
    }

    private void CheckVersion(YamlSection root)
    {
        string? version = reader.Scalar(root, "version", "a string");
        if (version is null or "1" or "1.0") return;
        reader.Error(NodeReader.At(root["version"]!), $"version '{ConfigText.Show(version)}' is not supported; this Aeterna reads version 1.0.",
            "Write version: \"1.0\", or leave version out.");
    }

    private ServiceConfig MapService(YamlSection root)
    {
        var service = reader.Section(root, "service", ConfigSchema.Service);
        if (service is null && !root.Contains("service"))
            reader.Error(root.Location, "the config has no 'service' section: nothing to run.",
                "Add one at the top level, e.g. service: {command: [\"python\", \"agent.py\"]}");

        string name = DefaultServiceName();
        if (service is not null && reader.Scalar(service, "name", "a string") is { } given)
        {
            if (ServiceNamePattern().IsMatch(given)) name = given;
            else reader.Error(NodeReader.At(service["name"]!), $"service.name '{ConfigText.Show(given)}' is not a valid name.",
                "Use 1 to 64 letters, digits, '_', '.' or '-', e.g. name: agent-core.");
        }

        IReadOnlyList<string> command = [];
        if (service is not null)
        {
            if (service["command"] is { } entry)
                command = Command(entry.Value, entry.Path, NodeReader.At(entry)) ?? [];
            else
                reader.Error(service.Location, "service has no 'command': nothing to run.",
                    "Add the program and its arguments under service, e.g. command: [\"python\", \"agent.py\"].");
        }

        return new ServiceConfig
        {
            Name = name,
            Command = command,
            Environment = service is null ? [] : MapEnvironment(service),
            WorkingDirectory = service is null ? BaseDirectory : WorkingDirectory(service),
        };
    }

    /// <summary>The config file's name without extension, made into a valid service name.</summary>
    private string DefaultServiceName()
    {
        string name = Regex.Replace(Path.GetFileNameWithoutExtension(sourcePath), "[^A-Za-z0-9_.-]", "-");
        if (name.Length > 64) name = name[..64];
        return name.Length == 0 ? "service" : name;
    }

    /// <summary>A command: a list of strings, or one string split like a shell would. Null after an error.</summary>
    private IReadOnlyList<string>? Command(YamlNode node, string path, Mark at)
    {
        List<string> words = [];
        switch (node)
        {
            case YamlSequenceNode list:
                foreach (var item in list.Children)
                {
                    if (item is YamlScalarNode scalar && !NodeReader.IsNull(item)) words.Add(scalar.Value ?? "");
                    else
                    {
                        reader.WrongKind($"each word of {path}", item, item.Start, "a string", path);
                        return null;
                    }
                }
                break;
            case YamlScalarNode scalar when !NodeReader.IsNull(scalar):
                if (!CommandLine.TrySplit(scalar.Value ?? "", out var split, out string? message, out string? fix))
                {
                    reader.Error(at, $"{path}: {message}", fix!);
                    return null;
                }
                words.AddRange(split);
                break;
            default:
                if (NodeReader.IsNull(node))
                    reader.Error(at, $"{path} is empty.", $"Give the program and its arguments, e.g. {ConfigSchema.Example(path)}");
                else
                    reader.WrongKind(path, node, at, "a list of strings or a single string");
                return null;
        }

        if (words.Count == 0)
        {
            reader.Error(at, $"{path} is empty: there is no program to run.", $"Give the program and its arguments, e.g. {ConfigSchema.Example(path)}");
            return null;
        }
        if (string.IsNullOrWhiteSpace(words[0]))
        {
            reader.Error(at, $"the program name (first word) of {path} is empty.", "Put the program first, e.g. [\"python\", \"agent.py\"].");
            return null;
        }
        if (words.Any(w => w.Contains('\0')))
        {
            reader.Error(at, $"{path} contains a NUL character, which no program argument can hold.", "Remove the \\0 escape.");
            return null;
        }
        return words;
    }

    private List<KeyValuePair<string, string>> MapEnvironment(YamlSection service)
    {
        var result = new List<KeyValuePair<string, string>>();
        if (service["env"] is not { } entry || NodeReader.IsNull(entry.Value)) return result;
        var seen = new Dictionary<string, Mark>(StringComparer.Ordinal);

        void Add(string key, string value, Mark at)
        {
            if (!VariablePattern().IsMatch(key))
                reader.Error(at, $"'{ConfigText.Show(key)}' in service.env is not a valid variable name.",
                    "Use letters, digits and '_', not starting with a digit, e.g. PYTHONUNBUFFERED=1.");
            else if (ReservedVariables.Contains(key))
                reader.Error(at, $"service.env sets {key}, which the supervisor sets for each generation.",
                    key.StartsWith("WATCHDOG", StringComparison.Ordinal) ? "Remove it and set readiness.watchdog instead." : "Remove it.");
            else if (value.Contains('\0'))
                reader.Error(at, $"the value of {key} in service.env contains a NUL character.", "Remove the \\0 escape.");
            else if (seen.TryGetValue(key, out Mark first))
                reader.Error(at, $"service.env sets {key} twice (first on line {first.Line}).", "Keep one of them.");
            else
            {
                seen[key] = at;
                result.Add(new(key, value));
            }
        }

        switch (entry.Value)
        {
            case YamlSequenceNode list:
                foreach (var item in list.Children)
                {
                    if (item is not YamlScalarNode { Value: { } text } || NodeReader.IsNull(item))
                    {
                        reader.WrongKind("each item of service.env", item, item.Start, "a \"KEY=VALUE\" string", "service.env");
                        continue;
                    }
                    int equals = text.IndexOf('=');
                    if (equals < 0)
                        reader.Error(item.Start, $"'{ConfigText.Show(text)}' in service.env has no '='.", $"Write KEY=VALUE, e.g. \"{(VariablePattern().IsMatch(text) ? text : "NAME")}=value\" (\"{(VariablePattern().IsMatch(text) ? text : "NAME")}=\" for an empty value).");
                    else
                        Add(text[..equals], text[(equals + 1)..], item.Start);
                }
                break;
            case YamlMappingNode mapping:
                foreach (var (keyNode, value) in mapping.Children)
                {
                    string key = ((YamlScalarNode)keyNode).Value ?? "";
                    if (value is YamlScalarNode scalar && !NodeReader.IsNull(value)) Add(key, scalar.Value ?? "", keyNode.Start);
                    else if (NodeReader.IsNull(value))
                        reader.Error(keyNode.Start, $"{ConfigText.Show(key)} in service.env has no value.", $"Write {ConfigText.Show(key)}: \"\" for an empty value, or remove it.");
                    else
                        reader.WrongKind($"the value of {ConfigText.Show(key)} in service.env", value, value.Start, "a single value", "service.env");
                }
                break;
            default:
                reader.WrongKind("service.env", entry.Value, entry.Value.Start, "a list of \"KEY=VALUE\" strings or a KEY: VALUE mapping");
                break;
        }
        return result;
    }

    private string WorkingDirectory(YamlSection service)
    {
        string? given = reader.Scalar(service, "working_dir", "a string (a directory path)");
        if (given is null) return BaseDirectory;
        var at = NodeReader.At(service["working_dir"]!);
        string full;
        try
        {
            full = Path.GetFullPath(given, BaseDirectory);
        }
        catch (ArgumentException)
        {
            reader.Error(at, $"service.working_dir '{ConfigText.Show(given)}' is not a valid path.", "Write a directory path, absolute or relative to the config file.");
            return BaseDirectory;
        }
        if (!Directory.Exists(full))
        {
            string tilde = given.StartsWith('~') ? " '~' is not expanded: write the full path." : "";
            reader.Error(at, $"service.working_dir '{ConfigText.Show(given)}' does not exist (looked for {ConfigText.Show(full)}).",
                $"Create the directory, or fix the path; relative paths start from the config file's directory ({BaseDirectory}).{tilde}");
        }
        return full;
    }

    private List<ListenerConfig> MapListeners(YamlSection root)
    {
        var listeners = new List<ListenerConfig>();
        if (root["listeners"] is not { } entry || NodeReader.IsNull(entry.Value)) return listeners;
        if (entry.Value is not YamlSequenceNode list)
        {
            reader.WrongKind("listeners", entry.Value, entry.Value.Start, "a list of {name, address} items");
            return listeners;
        }

        var names = new Dictionary<string, Mark>(StringComparer.Ordinal);
        var addresses = new Dictionary<string, (Mark At, string Name)>(StringComparer.Ordinal);
        for (int i = 0; i < list.Children.Count; i++)
        {
            var item = list.Children[i];
            string path = $"listeners[{i}]";
            var section = reader.Section(item, path, item.Start, ConfigSchema.Listener);
            if (section is null) continue;
            if (NodeReader.IsNull(item))
            {
                reader.Error(item.Start, $"{path} is empty.", "Give it a name and an address, e.g. - {name: http, address: \"tcp://0.0.0.0:8080\"}.");
                continue;
            }

            string? name = reader.Scalar(section, "name", "a string");
            if (name is null)
                reader.Error(section["name"] is { } n ? NodeReader.At(n) : item.Start, $"{path} has no name.",
                    "Add a name (passed to the app in LISTEN_FDNAMES), e.g. name: http.");
            else if (!ListenerNamePattern().IsMatch(name))
                reader.Error(NodeReader.At(section["name"]!), $"listener name '{ConfigText.Show(name)}' is not valid.",
                    "Use 1 to 255 letters, digits, '_', '.' or '-' (no ':', which separates names in LISTEN_FDNAMES), e.g. name: http.");
            else if (names.TryGetValue(name, out Mark first))
                reader.Error(NodeReader.At(section["name"]!), $"two listeners are named '{name}' (the first on line {first.Line}).",
                    "Give each listener its own name.");
            else
                names[name] = NodeReader.At(section["name"]!);

            string? text = reader.Scalar(section, "address", "a string");
            ListenerAddress address = default;
            bool valid = false;
            if (text is null)
                reader.Error(section["address"] is { } a ? NodeReader.At(a) : item.Start, $"{path} has no address.",
                    "Add one, e.g. address: tcp://0.0.0.0:8080 (or udp://host:port, unix:///absolute/path).");
            else if (!ListenerAddress.TryParse(text.Trim(), out address, out string? message, out string? fix))
                reader.Error(NodeReader.At(section["address"]!), $"{path}.address: {message}", fix!);
            else
            {
                valid = true;
                var at = NodeReader.At(section["address"]!);
                // Port 0 means "any free port", so two of those don't clash.
                string identity = address.Kind == ListenerKind.Unix
                    ? $"unix:{Path.GetFullPath(address.Path!)}"
                    : $"{address.Kind}:{address.Host!.ToLowerInvariant()}:{address.Port}";
                if (address.Port != 0 || address.Kind == ListenerKind.Unix)
                {
                    if (addresses.TryGetValue(identity, out var other))
                        reader.Error(at, $"{path} has the same address as listener '{other.Name}' (line {other.At.Line}): {ConfigText.Show(text)}.",
                            "Give each listener its own address, or remove the duplicate.");
                    else
                        addresses[identity] = (at, name ?? path);
                }
            }

            int backlog = 4096;
            if (section["backlog"] is { } backlogEntry)
            {
                backlog = reader.Int(section, "backlog", 4096, 1, 65535);
                if (valid && address.Kind == ListenerKind.Udp)
                    reader.Error(NodeReader.At(backlogEntry), $"{path} is a udp listener; backlog only applies to stream sockets (tcp, unix).",
                        "Remove backlog from this listener.");
            }

            if (name is not null && valid)
                listeners.Add(new ListenerConfig
                {
                    Name = name,
                    Address = text!,
                    Kind = address.Kind,
                    Host = address.Host,
                    Port = address.Port,
                    Path = address.Path,
                    Backlog = backlog,
                });
        }
        return listeners;
    }

    private ReadinessConfig MapReadiness(YamlSection root)
    {
        var defaults = new ReadinessConfig();
        var section = reader.Section(root, "readiness", ConfigSchema.Readiness);
        if (section is null) return defaults;
        var mode = reader.Choice(section, "mode", defaults.Mode, ReadinessModes);
        bool listenersWritten = root["listeners"]?.Value is YamlSequenceNode { Children.Count: > 0 };
        if (mode == ReadinessMode.Listening && !listenersWritten)
            reader.Error(NodeReader.At(section["mode"]!), "readiness.mode is 'listening', but there are no listeners to watch.",
                "Add a listener, or use mode: auto (READY=1 or a delay) or mode: notify.");
        return new ReadinessConfig
        {
            Mode = mode,
            Timeout = reader.Duration(section, "timeout", defaults.Timeout, allowZero: false),
            Delay = reader.Duration(section, "delay", defaults.Delay, allowZero: true),
            Watchdog = reader.Duration(section, "watchdog", defaults.Watchdog, allowZero: true),
        };
    }

    private OrchestrationConfig MapOrchestration(YamlSection root)
    {
        var defaults = new OrchestrationConfig();
        var section = reader.Section(root, "orchestration", ConfigSchema.Orchestration);
        var stateHandoff = section is null ? null : reader.Section(section, "state_handoff", ConfigSchema.StateHandoff);
        var topHandoff = reader.Section(root, "handoff", ConfigSchema.StateHandoff);
        if (root["handoff"] is { } top && section?["state_handoff"] is { } nested)
            reader.Error(top.KeyNode.Start, $"the state hand-over is configured twice: here and in orchestration.state_handoff (line {nested.KeyNode.Start.Line}).",
                "Keep orchestration.state_handoff: move any settings from this 'handoff' section into it, then delete 'handoff'.");

        var handoff = stateHandoff is not null ? MapHandoff(stateHandoff, impliedEnabled: true)
            : topHandoff is not null ? MapHandoff(topHandoff, impliedEnabled: true)
            : defaults.StateHandoff;
        if (stateHandoff is not null && topHandoff is not null) MapHandoff(topHandoff, impliedEnabled: true); // still report its own errors
        if (section is null) return defaults with { StateHandoff = handoff };

        return new OrchestrationConfig
        {
            Strategy = reader.Choice(section, "strategy", defaults.Strategy, Strategies),
            Preflight = MapPreflight(section),
            DrainTimeout = reader.Duration(section, "drain_timeout", defaults.DrainTimeout, allowZero: true),
            Canary = MapCanary(section),
            StateHandoff = handoff,
            Restart = MapRestart(section),
        };
    }

    private List<PreflightCommand> MapPreflight(YamlSection orchestration)
    {
        var result = new List<PreflightCommand>();
        if (orchestration["preflight"] is not { } entry || NodeReader.IsNull(entry.Value)) return result;
        if (entry.Value is not YamlSequenceNode list)
        {
            reader.WrongKind(entry.Path, entry.Value, entry.Value.Start, "a list of commands");
            return result;
        }
        for (int i = 0; i < list.Children.Count; i++)
        {
            var item = list.Children[i];
            string path = $"orchestration.preflight[{i}]";
            if (item is YamlMappingNode)
            {
                var section = reader.Section(item, path, item.Start, ConfigSchema.Preflight)!;
                var timeout = reader.Duration(section, "timeout", TimeSpan.FromSeconds(60), allowZero: false);
                if (section["run"] is not { } run)
                    reader.Error(item.Start, $"{path} has no 'run' command.", "Add the command to run, e.g. run: [\"./check.sh\", \"--quick\"].");
                else if (Command(run.Value, run.Path, NodeReader.At(run)) is { } command)
                    result.Add(new PreflightCommand { Command = command, Timeout = timeout });
            }
            else if (Command(item, path, item.Start) is { } command)
                result.Add(new PreflightCommand { Command = command });
        }
        return result;
    }

    private CanaryConfig MapCanary(YamlSection orchestration)
    {
        var defaults = new CanaryConfig();
        var section = reader.Section(orchestration, "canary", ConfigSchema.Canary);
        if (section is null) return defaults;
        bool enabled = reader.Bool(section, "enabled", defaults.Enabled);
        var soak = reader.Duration(section, "soak_time", defaults.SoakTime, allowZero: true);
        if (enabled && soak == TimeSpan.Zero)
            reader.Error(NodeReader.At(section["soak_time"]!), "orchestration.canary.soak_time is 0 while the canary is enabled.",
                "Use a positive soak time, e.g. soak_time: 30s, or set enabled: false to retire the old generation as soon as the new one is ready.");
        return new CanaryConfig
        {
            Enabled = enabled,
            SoakTime = soak,
            FailureThreshold = reader.Int(section, "failure_threshold", defaults.FailureThreshold, 1, 1000),
            MaxErrorRate = reader.Rate(section, "max_error_rate", defaults.MaxErrorRate),
            MinRequests = reader.Int(section, "min_requests", defaults.MinRequests, 0, int.MaxValue),
            HealthTimeout = reader.Duration(section, "health_timeout", defaults.HealthTimeout, allowZero: false),
            Probe = MapProbe(section),
        };
    }

    private ProbeConfig? MapProbe(YamlSection canary)
    {
        var section = reader.Section(canary, "probe", ConfigSchema.Probe);
        if (section is null) return null;
        if (section["run"] is not { } run)
        {
            reader.Error(section.Location, "orchestration.canary.probe has no 'run' command.", $"Add the command, e.g. {ConfigSchema.Example("orchestration.canary.probe.run")}");
            return null;
        }
        var defaults = new ProbeConfig { Command = ["true"] };
        var command = Command(run.Value, run.Path, NodeReader.At(run));
        var interval = reader.Duration(section, "interval", defaults.Interval, allowZero: false);
        var timeout = reader.Duration(section, "timeout", defaults.Timeout, allowZero: false);
        return command is null ? null : new ProbeConfig { Command = command, Interval = interval, Timeout = timeout };
    }

    private StateHandoffConfig MapHandoff(YamlSection section, bool impliedEnabled)
    {
        var defaults = new StateHandoffConfig();
        string? socket = reader.Scalar(section, "socket_path", "a string (a socket path)");
        return new StateHandoffConfig
        {
            Enabled = reader.Bool(section, "enabled", impliedEnabled),
            SocketPath = socket is null ? null : SocketPath(socket, section["socket_path"]!, checkSiblings: false),
            Mechanism = reader.Choice(section, "mechanism", defaults.Mechanism, Mechanisms),
            Timeout = reader.Duration(section, "timeout", defaults.Timeout, allowZero: false),
            MaxStateSize = reader.Size(section, "max_state_size", defaults.MaxStateSize, min: 1024),
            Manifest = FilePath(section, "manifest"),
            CheckpointInterval = reader.Duration(section, "checkpoint_interval", TimeSpan.Zero, allowZero: true),
            CheckpointPath = FilePath(section, "checkpoint_path"),
        };
    }

    /// <summary>A file path, absolute or relative to the config's directory; null when absent, invalid or a directory (reported).</summary>
    private string? FilePath(YamlSection section, string key)
    {
        string? given = reader.Scalar(section, key, "a string (a file path)");
        if (given is null) return null;
        var entry = section[key]!;
        string example = ConfigSchema.Example(entry.Path);
        string? full = null;
        try
        {
            if (!given.Contains('\0')) full = Path.GetFullPath(given, BaseDirectory);
        }
        catch (ArgumentException) { }
        if (full is null)
        {
            reader.Error(NodeReader.At(entry), $"{entry.Path} '{ConfigText.Show(given)}' is not a valid file path.", $"Write a file path, e.g. {example}");
            return null;
        }
        if (given.EndsWith('/') || Directory.Exists(full))
        {
            string file = Path.GetFileName(example[(example.IndexOf(": ", StringComparison.Ordinal) + 2)..]);
            reader.Error(NodeReader.At(entry), $"{entry.Path} '{ConfigText.Show(given)}' is a directory; it names the file itself.",
                $"Name a file in it, e.g. {key}: {Path.Combine(given, file)}.");
            return null;
        }
        return full;
    }

    private RestartConfig MapRestart(YamlSection orchestration)
    {
        var defaults = new RestartConfig();
        var section = reader.Section(orchestration, "restart", ConfigSchema.Restart);
        if (section is null) return defaults;
        var initial = reader.Duration(section, "backoff_initial", defaults.BackoffInitial, allowZero: false);
        var max = reader.Duration(section, "backoff_max", defaults.BackoffMax, allowZero: false);
        if (max < initial)
        {
            var entry = section["backoff_max"] ?? section["backoff_initial"]!;
            reader.Error(NodeReader.At(entry),
                $"orchestration.restart.backoff_max ({Configuration.Duration.Format(max)}{(section.Contains("backoff_max") ? "" : ", the default")}) is less than backoff_initial ({Configuration.Duration.Format(initial)}).",
                "Make backoff_max at least as long as backoff_initial.");
        }
        return new RestartConfig { BackoffInitial = initial, BackoffMax = max };
    }

    private ControlConfig MapControl(YamlSection root, IReadOnlyList<ListenerConfig> listeners)
    {
        var section = reader.Section(root, "control", ConfigSchema.Control);
        string? given = section is null ? null : reader.Scalar(section, "socket_path", "a string (a socket path)");
        string path = given is null
            ? ControlSocketPath.Default(sourcePath)
            : SocketPath(given, section!["socket_path"]!, checkSiblings: true) ?? ControlSocketPath.Default(sourcePath);
        if (given is not null && listeners.FirstOrDefault(l => l.Kind == ListenerKind.Unix && Path.GetFullPath(l.Path!) == path) is { } clash)
            reader.Error(NodeReader.At(section!["socket_path"]!), $"control.socket_path is also the address of listener '{clash.Name}'.",
                "Use a different path for one of them.");
        return new ControlConfig { SocketPath = path };
    }

    /// <summary>A socket path, absolute or relative to the config's directory; null after an error.</summary>
    private string? SocketPath(string given, YamlEntry entry, bool checkSiblings)
    {
        var at = NodeReader.At(entry);
        string full;
        try
        {
            full = given.Contains('\0') || given.EndsWith('/') ? throw new ArgumentException(null, nameof(given)) : Path.GetFullPath(given, BaseDirectory);
        }
        catch (ArgumentException)
        {
            reader.Error(at, $"{entry.Path} '{ConfigText.Show(given)}' is not a valid socket file path.", $"Write a file path, e.g. {ConfigSchema.Example(entry.Path)}");
            return null;
        }
        if (!UnixSocketPath.Fits(full))
        {
            reader.Error(at, $"{entry.Path} is {UnixSocketPath.ByteLength(full)} bytes long{(full != given ? $" once made absolute ({ConfigText.Show(full)})" : "")}; Unix socket paths can have at most {UnixSocketPath.MaxBytes}.",
                "Use a shorter path, e.g. under /run or /tmp.");
            return null;
        }
        if (checkSiblings && !ControlSocketPath.DirectoryFits(Path.GetDirectoryName(full)!))
        {
            reader.Error(at, $"the directory of {entry.Path} is too long: the supervisor also creates {ControlSocketPath.LongestSiblingName}-style notify sockets there, which would exceed {UnixSocketPath.MaxBytes} bytes.",
                "Use a shorter directory, e.g. /run/aeterna/agent.sock.");
            return null;
        }
        return full;
    }

    private WatchConfig MapWatch(YamlSection root)
    {
        var defaults = new WatchConfig();
        var section = reader.Section(root, "watch", ConfigSchema.Watch);
        if (section is null) return defaults;
        var paths = new List<string>();
        if (section["paths"] is { } entry && !NodeReader.IsNull(entry.Value))
        {
            if (entry.Value is not YamlSequenceNode list)
                reader.WrongKind(entry.Path, entry.Value, entry.Value.Start, "a list of paths");
            else
                foreach (var item in list.Children)
                {
                    if (item is not YamlScalarNode { Value: { Length: > 0 } text } || text.Contains('\0'))
                    {
                        reader.WrongKind("each item of watch.paths", item, item.Start, "a path", "watch.paths");
                        continue;
                    }
                    paths.Add(Path.GetFullPath(text, BaseDirectory));
                }
        }
        return new WatchConfig
        {
            Config = reader.Bool(section, "config", defaults.Config),
            Paths = paths,
            Debounce = reader.Duration(section, "debounce", defaults.Debounce, allowZero: true),
        };
    }

    private ObservabilityConfig MapObservability(YamlSection root)
    {
        var defaults = new ObservabilityConfig();
        var section = reader.Section(root, "observability", ConfigSchema.Observability);
        if (section is null) return defaults;
        return new ObservabilityConfig
        {
            MetricsAddress = MetricsAddress(section),
            LogLevel = reader.Choice(section, "log_level", defaults.LogLevel, LogLevels),
            LogFormat = reader.Choice(section, "log_format", defaults.LogFormat, LogFormats),
            HistoryPath = FilePath(section, "history_path"),
        };
    }

    /// <summary>":PORT", "HOST:PORT", "[v6]:PORT" or a bare port; validated, kept as written.</summary>
    private string? MetricsAddress(YamlSection section)
    {
        string? given = reader.Scalar(section, "metrics_port", "a port number or a string such as \":9090\"");
        if (given is null) return null;
        var at = NodeReader.At(section["metrics_port"]!);
        string text = given.Trim();
        if (text.Length > 0 && text.All(char.IsAsciiDigit))
            text = ":" + text;
        if (!ListenerAddress.TryParseEndpoint(text, "", allowEmptyHost: true, out _, out int port, out string? message, out string? fix))
        {
            reader.Error(at, $"observability.metrics_port: {message}", fix!);
            return null;
        }
        if (port == 0)
        {
            reader.Error(at, "observability.metrics_port has port 0; a metrics endpoint needs a known port.", "Use a port from 1 to 65535, e.g. metrics_port: \":9090\".");
            return null;
        }
        return given;
    }
}
