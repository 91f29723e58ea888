using static Aeterna.Tool.Configuration.Kinds;

namespace Aeterna.Tool.Configuration;

/// <summary>
/// Every key of aeterna.yaml, once: section, name, kind (type and bounds), where its value goes
/// in <see cref="AeternaConfig"/> (its default is that record's), an example and one line of doc.
/// The loader reads the file by it, unknown keys are suggested from it, and the reference in
/// docs/configuration.md and aeterna.schema.json are generated from it (a test keeps them equal).
/// Sections come before the sections that hold them.
/// </summary>
internal static class ConfigTable
{
    private static readonly KeyOptions Required = new() { Required = true };

    public static readonly ConfigSection<ServiceConfig> Service = new("service",
        map => new ServiceConfig { Name = ConfigText.FileName(map.SourcePath, 64) is { Length: > 0 } name ? name : "service", Command = [], Environment = [], WorkingDirectory = map.BaseDirectory })
    {
        { "name", Name(64, "1 to 64 letters, digits, '_', '.' or '-'"), null, (c, v) => c with { Name = v }, "agent-core",
            "Used in logs and status: 1 to 64 characters from `[A-Za-z0-9_.-]`.", new() { Default = "the config file's name without extension" } },
        { "command", Command, null, (c, v) => c with { Command = v }, "[\"python\", \"agent.py\"]",
            "The program and its arguments. The program is looked up on `PATH` unless it contains `/`; whether it exists is checked by pre-flight at run time, not by the loader.",
            new() { Required = true, Aliases = ["cmd", "args", "exec"] } },
        { "env", Kinds.Environment, c => c.Environment, (c, v) => c with { Environment = v }, "[\"PYTHONUNBUFFERED=1\"]",
            $"Extra environment, applied in order over the supervisor's own. Keys match `[A-Za-z_][A-Za-z0-9_]*`; setting one twice is an error, and so is setting one the supervisor sets for each generation ({string.Join(", ", ReservedVariables.Select(v => $"`{v}`"))}).",
            new() { Aliases = ["environment"] } },
        { "working_dir", Kinds.Directory, null, (c, v) => c with { WorkingDirectory = v }, "./app",
            "Working directory of every generation. It must exist.",
            new() { Default = "the config file's directory", Aliases = ["workdir", "cwd", "working_directory"] } },
    };

    public static readonly ConfigSection<ListenerConfig> Listener = new("listeners",
        _ => new ListenerConfig { Name = "", Address = "", Kind = default }, ConfigChecks.Listener)
    {
        { "name", Name(255, "1 to 255 letters, digits, '_', '.' or '-' (no ':', which separates names in LISTEN_FDNAMES)"), null, (c, v) => c with { Name = v }, "http",
            "The name the app sees in `LISTEN_FDNAMES`: 1 to 255 characters from `[A-Za-z0-9_.-]` (no `:`, which separates the names). Unique.", Required },
        { "address", Address, null, (c, v) => c with { Address = v.Text, Kind = v.Address.Kind, Host = v.Address.Host, Port = v.Address.Port, Path = v.Address.Path }, "\"tcp://0.0.0.0:8080\"",
            "`tcp://HOST:PORT`, `udp://HOST:PORT` or `unix:///absolute/path` (see below). Unique among listeners.", new() { Required = true, Aliases = ["addr", "url"] } },
        { "backlog", Int(1, 65535), c => c.Backlog, (c, v) => c with { Backlog = v }, "1024",
            "`listen()` backlog. Stream sockets (tcp, unix) only: setting it on a udp listener is an error." },
    };

    public static readonly ConfigSection<ReadinessConfig> Readiness = new("readiness", _ => new())
    {
        { "mode", Choice(("auto", ReadinessMode.Auto), ("notify", ReadinessMode.Notify), ("listening", ReadinessMode.Listening), ("delay", ReadinessMode.Delay)),
            c => c.Mode, (c, v) => c with { Mode = v }, "auto", "What counts as ready (the modes are below)." },
        { "timeout", Kinds.Duration(positive: true), c => c.Timeout, (c, v) => c with { Timeout = v }, "30s",
            "Time from start to ready. Past it the generation is killed and the relay fails as `not_ready`. The app can push the deadline out with `EXTEND_TIMEOUT_USEC=`." },
        { "delay", Kinds.Duration(), c => c.Delay, (c, v) => c with { Delay = v }, "1s",
            "Time alive after which `delay` mode, and `auto` mode without listeners, counts the generation as ready." },
        { "watchdog", Kinds.Duration(), c => c.Watchdog, (c, v) => c with { Watchdog = v }, "10s",
            "Passed to the app as `WATCHDOG_USEC`; `0s` is off. A generation that then goes longer than this without sending `WATCHDOG=1` is considered hung." },
    };

    public static readonly ConfigSection<PreflightCommand> PreflightItem = new("orchestration.preflight", _ => new PreflightCommand { Command = [] })
    {
        { "run", Command, null, (c, v) => c with { Command = v }, "[\"./check.sh\", \"--quick\"]", "The command (a list or one string).", Required },
        { "timeout", Kinds.Duration(positive: true), c => c.Timeout, (c, v) => c with { Timeout = v }, "30s", "How long it may take; a check still running then fails." },
    };

    public static readonly ConfigSection<ProbeConfig> Probe = new("orchestration.canary.probe", _ => new ProbeConfig { Command = [] })
    {
        { "run", Command, null, (c, v) => c with { Command = v }, "[\"/app/probe.sh\", \"${AETERNA_PID}\"]",
            "The probe command. In its words and environment `${AETERNA_GENERATION}` and `${AETERNA_PID}` name the generation under test, so it can reach that generation itself (e.g. a health socket the app opens per generation) rather than the shared listener, which either generation may answer.",
            Required },
        { "interval", Kinds.Duration(positive: true), c => c.Interval, (c, v) => c with { Interval = v }, "1s", "The pause after one probe before the next." },
        { "timeout", Kinds.Duration(positive: true), c => c.Timeout, (c, v) => c with { Timeout = v }, "1s", "How long one probe may take; a probe still running then fails." },
    };

    public static readonly ConfigSection<CanaryConfig> Canary = new("orchestration.canary", _ => new(), ConfigChecks.Canary)
    {
        { "enabled", Bool, c => c.Enabled, (c, v) => c with { Enabled = v }, "true", "Whether to soak the new generation beside the old one before retiring the old one." },
        { "soak_time", Kinds.Duration(), c => c.SoakTime, (c, v) => c with { SoakTime = v }, "30s",
            "How long the soak lasts. It must be more than 0 while the canary is enabled.", new() { Aliases = ["soak"] } },
        { "failure_threshold", Int(1, 1000), c => c.FailureThreshold, (c, v) => c with { FailureThreshold = v }, "3",
            "This many unhealthy HEALTH reports (or failed probes) in a row fail the soak." },
        { "max_error_rate", Rate, c => c.MaxErrorRate, (c, v) => c with { MaxErrorRate = v }, "5%",
            "A larger share of the new generation's requests failing (5xx) during the soak fails it…" },
        { "min_requests", Int(0, int.MaxValue), c => c.MinRequests, (c, v) => c with { MinRequests = v }, "20", "…once it has served at least this many." },
        { "health_timeout", Kinds.Duration(positive: true), c => c.HealthTimeout, (c, v) => c with { HealthTimeout = v }, "5s",
            "A generation that reports HEALTH (apps on Aeterna.Runtime do, every second) and then falls silent this long fails the soak." },
        { "probe", Probe.Kind, null, (c, v) => c with { Probe = v }, "{run: [\"curl\", \"-sf\", \"--unix-socket\", \"/run/app/gen-${AETERNA_GENERATION}.sock\", \"http://probe/healthz\"]}",
            "A per-generation probe for apps without an Aeterna session, run during the soak; exit 0 is healthy.", new() { Default = "none" } },
    };

    // The socket path left empty is beside the control socket, known once the top level is read (ConfigChecks.Root).
    public static readonly ConfigSection<StateHandoffConfig> StateHandoff = new("orchestration.state_handoff", _ => new StateHandoffConfig { SocketPath = "" })
    {
        { "enabled", Bool, c => c.Enabled, (c, v) => c with { Enabled = v }, "true",
            "Whether to hand over the app's in-memory state from the old generation to the new one (apps that register state through Aeterna.Runtime or an SDK). `false` relays them as if stateless: their state starts empty." },
        { "socket_path", Socket(withNotifySockets: false), null, (c, v) => c with { SocketPath = v }, "/tmp/aeterna_srp.sock",
            "A fixed path for the Aeterna protocol socket (`AETERNA_SOCKET`).", new() { Default = "`aeterna.sock` beside the control socket", Aliases = ["socket", "path"] } },
        { "mechanism", Choice(("auto", HandoffMechanism.Auto), ("pipe", HandoffMechanism.Pipe), ("shm", HandoffMechanism.Shm)), c => c.Mechanism, (c, v) => c with { Mechanism = v }, "pipe",
            "How copied state travels: `pipe` streams it over a socket pair between the generations, `shm` passes a sealed memfd; `auto` lets the app choose (the .NET runtime uses `shm` from 1 MiB). `RelayMemory` buffers always go by fd." },
        { "timeout", Kinds.Duration(positive: true), c => c.Timeout, (c, v) => c with { Timeout = v }, "5s",
            "The budget of one export (waiting for requests in flight included) and of one import." },
        { "max_state_size", Size(1024), c => c.MaxStateSize, (c, v) => c with { MaxStateSize = v }, "512MiB",
            "The most serialized state a generation accepts; more is refused before it is received. Bytes, or a number with B, KiB, MiB, GiB, TiB (or KB, MB, GB, TB). `RelayMemory` buffers, passed by fd, don't count." },
        { "manifest", Kinds.File, null, (c, v) => c with { Manifest = v }, "./app/MyAgent.relay.json",
            "The new build's relay manifest (`<assembly>.relay.json`), for the pre-flight check that it can read the running state. By default it is looked for beside the program and each `.dll` argument of `service.command`.",
            new() { Default = "beside the command" } },
        { "checkpoint_interval", Kinds.Duration(), c => c.CheckpointInterval, (c, v) => c with { CheckpointInterval = v }, "10s",
            "How often the active generation sends a checkpoint of its state; `0s` is never. A generation that crashes is restarted from the last one, losing at most one interval. Requests wait while the state is serialized." },
        { "checkpoint_path", Kinds.File, null, (c, v) => c with { CheckpointPath = v }, "/var/lib/agent/state.checkpoint",
            "Also write each checkpoint to this file (atomically: write, fsync, rename), so that a restarted supervisor, e.g. a restarted container, resumes from it. Writing copies the `RelayMemory` buffers too." },
    };

    public static readonly ConfigSection<RestartConfig> Restart = new("orchestration.restart", _ => new(), ConfigChecks.Restart)
    {
        { "backoff_initial", Kinds.Duration(positive: true), c => c.BackoffInitial, (c, v) => c with { BackoffInitial = v }, "100ms",
            "First delay before restarting a generation that died outside a relay. It doubles per consecutive crash." },
        { "backoff_max", Kinds.Duration(positive: true), c => c.BackoffMax, (c, v) => c with { BackoffMax = v }, "30s",
            "Upper bound of that delay. It must be at least `backoff_initial`." },
    };

    public static readonly ConfigSection<OrchestrationConfig> Orchestration = new("orchestration",
        map => new OrchestrationConfig { StateHandoff = StateHandoff.Defaults(map) })
    {
        { "strategy", Choice(("hot-relay", "hot-relay")), _ => "hot-relay", null, "hot-relay", "The only strategy. Any other value is an error.",
            new() { Aliases = ["strategy_name"] } },
        { "preflight", ListOf(Preflight(PreflightItem), "list of commands or mappings", "a list of commands"), c => c.Preflight, (c, v) => c with { Preflight = v },
            "[[\"./check.sh\", \"--quick\"]]",
            "Commands that must each exit 0 before a relay starts the new generation; otherwise the relay is refused. An item is a command (list or string), with a 60s timeout, or a mapping `{run: <command>, timeout: <duration>}`.",
            new() { Aliases = ["checks", "pre_flight"] } },
        { "drain_timeout", Kinds.Duration(), c => c.DrainTimeout, (c, v) => c with { DrainTimeout = v }, "30s",
            "After SIGTERM, how long a retiring generation may take to finish before it gets SIGKILL.", new() { Aliases = ["drain"] } },
        { "canary", Canary.Kind, null, (c, v) => c with { Canary = v }, "{enabled: true, soak_time: 30s}", "The soak of a relay: how long, and what fails it." },
        { "state_handoff", StateHandoff.Kind, null, (c, v) => c with { StateHandoff = v }, "{enabled: true, mechanism: pipe}",
            "How the old generation's in-memory state reaches the new one.", new() { Aliases = ["state", "handover"] } },
        { "restart", Restart.Kind, null, (c, v) => c with { Restart = v }, "{backoff_initial: 100ms, backoff_max: 30s}",
            "Restarts of a generation that died outside a relay." },
    };

    public static readonly ConfigSection<ControlConfig> Control = new("control",
        map => new ControlConfig { SocketPath = ControlSocketPath.Default(map.SourcePath) })
    {
        { "socket_path", Socket(withNotifySockets: true), null, (c, v) => c with { SocketPath = v }, "/run/aeterna/agent.sock",
            "The control socket, used by `relay`, `status` and `stop`, with mode 0600. The per-generation sd_notify sockets (`notify-N.sock`) are created in the same directory, so the directory must leave room for them within the 107-byte limit.",
            new() { Default = "see below", Aliases = ["socket", "path"] } },
    };

    // Likewise the history path.
    public static readonly ConfigSection<ObservabilityConfig> Observability = new("observability", _ => new ObservabilityConfig { HistoryPath = "" })
    {
        { "metrics_port", Metrics, null, (c, v) => c with { MetricsAddress = v }, "\":9090\"",
            "The HTTP endpoint for `/metrics`, `/healthz`, `/readyz` and `/status` ([observability.md](observability.md)): `\":9090\"` (every interface, IPv6 and IPv4), `\"127.0.0.1:9090\"`, `\"[::1]:9090\"`, `\"host:9090\"`, or a bare port (`9090`, same as `\":9090\"`), from 1 to 65535. Bound once at start; if it cannot be bound (port in use), `start` fails with exit code 6.",
            new() { Aliases = ["metrics", "metrics_address"] } },
        { "log_level", Choice(("debug", LogLevel.Debug), ("info", LogLevel.Info), ("warn", LogLevel.Warn), ("warning", LogLevel.Warn), ("error", LogLevel.Error)),
            c => c.LogLevel, (c, v) => c with { LogLevel = v }, "info", "The lowest level of the supervisor's own events that are logged (on stderr).", new() { Aliases = ["level"] } },
        { "log_format", Choice(("text", LogFormat.Text), ("json", LogFormat.Json)), c => c.LogFormat, (c, v) => c with { LogFormat = v }, "json",
            "One line per event, either as text or as JSON.", new() { Aliases = ["format"] } },
        { "history_path", Kinds.File, null, (c, v) => c with { HistoryPath = v }, "/var/lib/aeterna/relays.jsonl",
            "The relay history: one JSON line per relay, appended ([observability.md](observability.md#the-relay-history)). The directory is created. Put it on a volume to keep the history across container restarts. If it cannot be written, `start` fails with exit code 6.",
            new() { Default = "`relays.jsonl` beside the control socket", Aliases = ["history"] } },
    };

    public static readonly ConfigSection<WatchConfig> Watch = new("watch", _ => new())
    {
        { "config", Bool, c => c.Config, (c, v) => c with { Config = v }, "true", "Watch the config file itself." },
        { "paths", Paths, c => c.Paths, (c, v) => c with { Paths = v }, "[\"/app/current\"]",
            "Files or directories to watch, e.g. the app's binary or a release directory (`/app/current`, a symlink to the release in use). Directories are watched with everything in them." },
        { "debounce", Kinds.Duration(), c => c.Debounce, (c, v) => c with { Debounce = v }, "2s", "How long a change must be quiet before it relays (a deploy writes several files)." },
    };

    public static readonly ConfigSection<AeternaConfig> Root = new("", map => new AeternaConfig
    {
        SourcePath = map.SourcePath, Service = Service.Defaults(map), Listeners = [], Readiness = Readiness.Defaults(map), Orchestration = Orchestration.Defaults(map),
        Control = Control.Defaults(map), Observability = Observability.Defaults(map), Watch = Watch.Defaults(map),
    }, ConfigChecks.Root)
    {
        { "version", Kinds.Version, _ => "1.0", null, "\"1.0\"", "The format version: `\"1\"` and `\"1.0\"` are accepted, anything else is an error." },
        { "service", Service.Kind, null, (c, v) => c with { Service = v }, "{command: [\"python\", \"agent.py\"]}", "The service the supervisor runs: one process per generation.", Required },
        { "listeners", ListOf(Listener.Kind, "list of mappings", "a list of {name, address} items"), null, (c, v) => c with { Listeners = v }, "[{name: http, address: \"tcp://0.0.0.0:8080\"}]",
            "The sockets the supervisor binds once and hands to every generation, in order: fd 3, 4, …", new() { Aliases = ["listen", "sockets"] } },
        { "readiness", Readiness.Kind, null, (c, v) => c with { Readiness = v }, "{mode: auto, timeout: 30s}", "When a newly started generation counts as ready." },
        { "orchestration", Orchestration.Kind, null, (c, v) => c with { Orchestration = v }, "{strategy: hot-relay}", "How a relay replaces a generation." },
        { "handoff", StateHandoff.Kind, null, (c, v) => c with { Orchestration = c.Orchestration with { StateHandoff = v } }, "{mechanism: pipe, timeout: 5s}",
            "A top-level spelling of `orchestration.state_handoff`, with the same keys.", new() { Aliases = ["handover"] } },
        { "control", Control.Kind, null, (c, v) => c with { Control = v }, "{socket_path: /run/aeterna/agent.sock}", "The control socket that `relay`, `status` and `stop` use." },
        { "observability", Observability.Kind, null, (c, v) => c with { Observability = v }, "{metrics_port: \":9090\", log_level: info}", "The metrics endpoint, the supervisor's log and the relay history." },
        { "watch", Watch.Kind, null, (c, v) => c with { Watch = v }, "{config: true, paths: [\"/app/current\"], debounce: 2s}",
            "Opt-in convergence: a change to the config file or a watched path relays." },
    };

    /// <summary>Every section, the top level first; a section that two keys open (state_handoff and handoff) once.</summary>
    public static readonly IReadOnlyList<ConfigSection> Sections =
        [Root, Service, Listener, Readiness, Orchestration, PreflightItem, Canary, Probe, StateHandoff, Restart, Control, Observability, Watch];
}
