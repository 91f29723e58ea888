using Aeterna.Addresses;
using static Aeterna.Tool.Configuration.Kinds;

namespace Aeterna.Tool.Configuration;

/// <summary>
/// Every key of aeterna.yaml, once: section, name, kind (type and bounds), default (a value as
/// YAML, read by the kind; or said in words and resolved by the section's record), an example and
/// one line of doc; each section with the record its keys build, in their order. The loader reads
/// the file by it, unknown keys are suggested from it, and the reference in docs/configuration.md
/// and aeterna.schema.json are generated from it (a test keeps them equal). Sections come before
/// the sections that hold them.
/// </summary>
internal static class ConfigTable
{
    public static readonly ConfigSection<ServiceConfig> Service = new("service",
        v => new(v.Next<string?>() ?? (ConfigText.FileName(v.Map.SourcePath, 64) is { Length: > 0 } name ? name : "service"), v.Next<IReadOnlyList<string>>(),
            v.Next<IReadOnlyList<KeyValuePair<string, string>>?>() ?? [], v.Next<string?>() ?? v.Map.BaseDirectory),
    [
        new("name", Name(64, "1 to 64 letters, digits, '_', '.' or '-'"), null, "agent-core", "Used in logs and status: 1 to 64 characters from `[A-Za-z0-9_.-]`.", DefaultInWords: "the config file's name without extension"),
        new("command", Command, null, "[\"python\", \"agent.py\"]", "The program and its arguments. The program is looked up on `PATH` unless it contains `/`; whether it exists is checked by pre-flight at run time, not by the loader.", Required: true, Aliases: ["cmd", "args", "exec"]),
        new("env", Kinds.Environment, null, "[\"PYTHONUNBUFFERED=1\"]", $"Extra environment, applied in order over the supervisor's own. Keys match `[A-Za-z_][A-Za-z0-9_]*`; setting one twice is an error, and so is setting one the supervisor sets for each generation ({string.Join(", ", ReservedVariables.Select(v => $"`{v}`"))}).", Aliases: ["environment"]),
        new("working_dir", Kinds.Directory, null, "./app", "Working directory of every generation. It must exist.", DefaultInWords: "the config file's directory", Aliases: ["workdir", "cwd", "working_directory"]),
    ]);

    public static readonly ConfigSection<ListenerConfig> Listener = new("listeners", v =>
    {
        var (name, (text, address)) = (v.Next<string>(), v.Next<(string, ListenerAddress)>());
        return new(name, text, address.Kind, address.Host, address.Port, address.Path, v.Next<int>());
    },
    [
        new("name", Name(255, "1 to 255 letters, digits, '_', '.' or '-' (no ':', which separates names in LISTEN_FDNAMES)"), null, "http", "The name the app sees in `LISTEN_FDNAMES`: 1 to 255 characters from `[A-Za-z0-9_.-]` (no `:`, which separates the names). Unique.", Required: true),
        new("address", Address, null, "\"tcp://0.0.0.0:8080\"", "`tcp://HOST:PORT`, `udp://HOST:PORT` or `unix:///absolute/path` (see below). Unique among listeners.", Required: true, Aliases: ["addr", "url"]),
        new("backlog", Int(1, 65535), "4096", "1024", "`listen()` backlog. Stream sockets (tcp, unix) only: setting it on a udp listener is an error."),
    ], ConfigChecks.Listener);

    public static readonly ConfigSection<ReadinessConfig> Readiness = new("readiness", v => new(v.Next<ReadinessMode>(), v.Next<TimeSpan>(), v.Next<TimeSpan>(), v.Next<TimeSpan>()),
    [
        new("mode", Choice(("auto", ReadinessMode.Auto), ("notify", ReadinessMode.Notify), ("listening", ReadinessMode.Listening), ("delay", ReadinessMode.Delay)), "auto", "auto", "What counts as ready (the modes are below)."),
        new("timeout", Kinds.Duration(positive: true), "30s", "30s", "Time from start to ready. Past it the generation is killed and the relay fails as `not_ready`. The app can push the deadline out with `EXTEND_TIMEOUT_USEC=`."),
        new("delay", Kinds.Duration(), "1s", "1s", "Time alive after which `delay` mode, and `auto` mode without listeners, counts the generation as ready."),
        new("watchdog", Kinds.Duration(), "0s", "10s", "Passed to the app as `WATCHDOG_USEC`; `0s` is off. A generation that then goes longer than this without sending `WATCHDOG=1` is considered hung."),
    ]);

    public static readonly ConfigSection<PreflightCommand> PreflightItem = new("orchestration.preflight", v => new(v.Next<IReadOnlyList<string>>(), v.Next<TimeSpan>()),
    [
        new("run", Command, null, "[\"./check.sh\", \"--quick\"]", "The command (a list or one string).", Required: true),
        new("timeout", Kinds.Duration(positive: true), "1m", "30s", "How long it may take; a check still running then fails."),
    ]);

    public static readonly ConfigSection<ProbeConfig> Probe = new("orchestration.canary.probe", v => new(v.Next<IReadOnlyList<string>>(), v.Next<TimeSpan>(), v.Next<TimeSpan>()),
    [
        new("run", Command, null, "[\"/app/probe.sh\", \"${AETERNA_PID}\"]", "The probe command. In its words and environment `${AETERNA_GENERATION}` and `${AETERNA_PID}` name the generation under test, so it can reach that generation itself (e.g. a health socket the app opens per generation) rather than the shared listener, which either generation may answer.", Required: true),
        new("interval", Kinds.Duration(positive: true), "1s", "1s", "The pause after one probe before the next."),
        new("timeout", Kinds.Duration(positive: true), "1s", "1s", "How long one probe may take; a probe still running then fails."),
    ]);

    public static readonly ConfigSection<CanaryConfig> Canary = new("orchestration.canary",
        v => new(v.Next<bool>(), v.Next<TimeSpan>(), v.Next<int>(), v.Next<double>(), v.Next<int>(), v.Next<TimeSpan>(), v.Next<ProbeConfig?>()),
    [
        new("enabled", Bool, "true", "true", "Whether to soak the new generation beside the old one before retiring the old one."),
        new("soak_time", Kinds.Duration(), "10s", "30s", "How long the soak lasts. It must be more than 0 while the canary is enabled.", Aliases: ["soak"]),
        new("failure_threshold", Int(1, 1000), "3", "3", "This many unhealthy HEALTH reports (or failed probes) in a row fail the soak."),
        new("max_error_rate", Rate, "10%", "5%", "A larger share of the new generation's requests failing (5xx) during the soak fails it…"),
        new("min_requests", Int(0, int.MaxValue), "20", "20", "…once it has served at least this many."),
        new("health_timeout", Kinds.Duration(positive: true), "5s", "5s", "A generation that reports HEALTH (apps on Aeterna.Runtime do, every second) and then falls silent this long fails the soak."),
        new("probe", Probe.Kind, null, "{run: [\"curl\", \"-sf\", \"--unix-socket\", \"/run/app/gen-${AETERNA_GENERATION}.sock\", \"http://probe/healthz\"]}", "A per-generation probe for apps without an Aeterna session, run during the soak; exit 0 is healthy.", DefaultInWords: "none"),
    ], ConfigChecks.Canary);

    // The socket path left empty is beside the control socket, known once the top level is read (ConfigChecks.Root).
    public static readonly ConfigSection<StateHandoffConfig> StateHandoff = new("orchestration.state_handoff",
        v => new(v.Next<bool>(), v.Next<string?>() ?? "", v.Next<HandoffMechanism>(), v.Next<TimeSpan>(), v.Next<long>(), v.Next<string?>(), v.Next<TimeSpan>(), v.Next<string?>()),
    [
        new("enabled", Bool, "true", "true", "Whether to hand over the app's in-memory state from the old generation to the new one (apps that register state through Aeterna.Runtime or an SDK). `false` relays them as if stateless: their state starts empty."),
        new("socket_path", Socket(withNotifySockets: false), null, "/tmp/aeterna_srp.sock", "A fixed path for the Aeterna protocol socket (`AETERNA_SOCKET`).", DefaultInWords: "`aeterna.sock` beside the control socket", Aliases: ["socket", "path"]),
        new("mechanism", Choice(("auto", HandoffMechanism.Auto), ("pipe", HandoffMechanism.Pipe), ("shm", HandoffMechanism.Shm)), "auto", "pipe", "How copied state travels: `pipe` streams it over a socket pair between the generations, `shm` passes a sealed memfd; `auto` lets the app choose (the .NET runtime uses `shm` from 1 MiB). `RelayMemory` buffers always go by fd."),
        new("timeout", Kinds.Duration(positive: true), "5s", "5s", "The budget of one export (waiting for requests in flight included) and of one import."),
        new("max_state_size", Size, "1GiB", "512MiB", "The most serialized state a generation accepts; more is refused before it is received. Bytes, or a number with B, KiB, MiB, GiB, TiB (or KB, MB, GB, TB). `RelayMemory` buffers, passed by fd, don't count."),
        new("manifest", Kinds.File, null, "./app/MyAgent.relay.json", "The new build's relay manifest (`<assembly>.relay.json`), for the pre-flight check that it can read the running state. By default it is looked for beside the program and each `.dll` argument of `service.command`.", DefaultInWords: "beside the command"),
        new("checkpoint_interval", Kinds.Duration(), "0s", "10s", "How often the active generation sends a checkpoint of its state; `0s` is never. A generation that crashes is restarted from the last one, losing at most one interval. Requests wait while the state is serialized."),
        new("checkpoint_path", Kinds.File, null, "/var/lib/agent/state.checkpoint", "Also write each checkpoint to this file (atomically: write, fsync, rename), so that a restarted supervisor, e.g. a restarted container, resumes from it. Writing copies the `RelayMemory` buffers too."),
    ]);

    public static readonly ConfigSection<RestartConfig> Restart = new("orchestration.restart", v => new(v.Next<TimeSpan>(), v.Next<TimeSpan>()),
    [
        new("backoff_initial", Kinds.Duration(positive: true), "100ms", "100ms", "First delay before restarting a generation that died outside a relay. It doubles per consecutive crash."),
        new("backoff_max", Kinds.Duration(positive: true), "30s", "30s", "Upper bound of that delay. It must be at least `backoff_initial`."),
    ], ConfigChecks.Restart);

    public static readonly ConfigSection<OrchestrationConfig> Orchestration = new("orchestration",
        v => new(v.Skip().Next<IReadOnlyList<PreflightCommand>?>() ?? [], v.Next<TimeSpan>(), v.Next<CanaryConfig>(), v.Next<StateHandoffConfig>(), v.Next<RestartConfig>()),
    [
        new("strategy", Choice(("hot-relay", "hot-relay")), "hot-relay", "hot-relay", "The only strategy. Any other value is an error.", Aliases: ["strategy_name"]),
        new("preflight", ListOf(Preflight(PreflightItem), "list of commands or mappings", "a list of commands"), null, "[[\"./check.sh\", \"--quick\"]]", "Commands that must each exit 0 before a relay starts the new generation; otherwise the relay is refused. An item is a command (list or string), with a 60s timeout, or a mapping `{run: <command>, timeout: <duration>}`.", Aliases: ["checks", "pre_flight"]),
        new("drain_timeout", Kinds.Duration(), "30s", "30s", "After SIGTERM, how long a retiring generation may take to finish before it gets SIGKILL.", Aliases: ["drain"]),
        new("canary", Canary.Kind, "{}", "{enabled: true, soak_time: 30s}", "The soak of a relay: how long, and what fails it."),
        new("state_handoff", StateHandoff.Kind, "{}", "{enabled: true, mechanism: pipe}", "How the old generation's in-memory state reaches the new one.", Aliases: ["state", "handover"]),
        new("restart", Restart.Kind, "{}", "{backoff_initial: 100ms, backoff_max: 30s}", "Restarts of a generation that died outside a relay."),
    ]);

    public static readonly ConfigSection<ControlConfig> Control = new("control", v => new(v.Next<string?>() ?? ControlSocketPath.Default(v.Map.SourcePath)),
    [
        new("socket_path", Socket(withNotifySockets: true), null, "/run/aeterna/agent.sock", "The control socket, used by `relay`, `status` and `stop`, with mode 0600. The per-generation sd_notify sockets (`notify-N.sock`) are created in the same directory, so the directory must leave room for them within the 107-byte limit.", DefaultInWords: "see below", Aliases: ["socket", "path"]),
    ]);

    // Likewise the history path.
    public static readonly ConfigSection<ObservabilityConfig> Observability = new("observability",
        v => new(v.Next<string?>(), v.Next<LogLevel>(), v.Next<LogFormat>(), v.Next<string?>() ?? ""),
    [
        new("metrics_port", Metrics, null, "\":9090\"", "The HTTP endpoint for `/metrics`, `/healthz`, `/readyz` and `/status` ([observability.md](observability.md)): `\":9090\"` (every interface, IPv6 and IPv4), `\"127.0.0.1:9090\"`, `\"[::1]:9090\"`, `\"host:9090\"`, or a bare port (`9090`, same as `\":9090\"`), from 1 to 65535. Bound once at start; if it cannot be bound (port in use), `start` fails with exit code 6.", Aliases: ["metrics", "metrics_address"]),
        new("log_level", Choice(("debug", LogLevel.Debug), ("info", LogLevel.Info), ("warn", LogLevel.Warn), ("warning", LogLevel.Warn), ("error", LogLevel.Error)), "info", "info", "The lowest level of the supervisor's own events that are logged (on stderr).", Aliases: ["level"]),
        new("log_format", Choice(("text", LogFormat.Text), ("json", LogFormat.Json)), "text", "json", "One line per event, either as text or as JSON.", Aliases: ["format"]),
        new("history_path", Kinds.File, null, "/var/lib/aeterna/relays.jsonl", "The relay history: one JSON line per relay, appended ([observability.md](observability.md#the-relay-history)). The directory is created. Put it on a volume to keep the history across container restarts. If it cannot be written, `start` fails with exit code 6.", DefaultInWords: "`relays.jsonl` beside the control socket", Aliases: ["history"]),
    ]);

    public static readonly ConfigSection<WatchConfig> Watch = new("watch", v => new(v.Next<bool>(), v.Next<IReadOnlyList<string>?>() ?? [], v.Next<TimeSpan>()),
    [
        new("config", Bool, "false", "true", "Watch the config file itself."),
        new("paths", Paths, null, "[\"/app/current\"]", "Files or directories to watch, e.g. the app's binary or a release directory (`/app/current`, a symlink to the release in use). Directories are watched with everything in them."),
        new("debounce", Kinds.Duration(), "2s", "2s", "How long a change must be quiet before it relays (a deploy writes several files)."),
    ]);

    // A top-level handoff section stands for orchestration.state_handoff (ConfigChecks.Root refuses both).
    public static readonly ConfigSection<AeternaConfig> Root = new("", v =>
    {
        var (service, listeners, readiness, orchestration) = (v.Skip().Next<ServiceConfig>(), v.Next<IReadOnlyList<ListenerConfig>?>() ?? [], v.Next<ReadinessConfig>(), v.Next<OrchestrationConfig>());
        if (v.Next<StateHandoffConfig?>() is { } handoff) orchestration = orchestration with { StateHandoff = handoff };
        return new(v.Map.SourcePath, service, listeners, readiness, orchestration, v.Next<ControlConfig>(), v.Next<ObservabilityConfig>(), v.Next<WatchConfig>());
    },
    [
        new("version", Kinds.Version, "\"1.0\"", "\"1.0\"", "The format version: `\"1\"` and `\"1.0\"` are accepted, anything else is an error."),
        new("service", Service.Kind, null, "{command: [\"python\", \"agent.py\"]}", "The service the supervisor runs: one process per generation.", Required: true),
        new("listeners", ListOf(Listener.Kind, "list of mappings", "a list of {name, address} items"), null, "[{name: http, address: \"tcp://0.0.0.0:8080\"}]", "The sockets the supervisor binds once and hands to every generation, in order: fd 3, 4, …", Aliases: ["listen", "sockets"]),
        new("readiness", Readiness.Kind, "{}", "{mode: auto, timeout: 30s}", "When a newly started generation counts as ready."),
        new("orchestration", Orchestration.Kind, "{}", "{strategy: hot-relay}", "How a relay replaces a generation."),
        new("handoff", StateHandoff.Kind, null, "{mechanism: pipe, timeout: 5s}", "A top-level spelling of `orchestration.state_handoff`, with the same keys.", Aliases: ["handover"]),
        new("control", Control.Kind, "{}", "{socket_path: /run/aeterna/agent.sock}", "The control socket that `relay`, `status` and `stop` use."),
        new("observability", Observability.Kind, "{}", "{metrics_port: \":9090\", log_level: info}", "The metrics endpoint, the supervisor's log and the relay history."),
        new("watch", Watch.Kind, "{}", "{config: true, paths: [\"/app/current\"], debounce: 2s}", "Opt-in convergence: a change to the config file or a watched path relays."),
    ], ConfigChecks.Root);

    /// <summary>Every section, the top level first; a section that two keys open (state_handoff and handoff) once.</summary>
    public static readonly IReadOnlyList<ConfigSection> Sections =
        [Root, Service, Listener, Readiness, Orchestration, PreflightItem, Canary, Probe, StateHandoff, Restart, Control, Observability, Watch];
}
