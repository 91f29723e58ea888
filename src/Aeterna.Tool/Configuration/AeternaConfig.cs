using Aeterna.Addresses;

namespace Aeterna.Tool.Configuration;

/// <summary>
/// A validated <c>aeterna.yaml</c>. Every value has been checked and defaulted by
/// <see cref="ConfigLoader"/>; nothing downstream needs to validate again.
/// docs/configuration.md is the reference for the file format.
/// </summary>
internal sealed record AeternaConfig
{
    /// <summary>Absolute path of the file this was read from.</summary>
    public required string SourcePath { get; init; }

    /// <summary>Directory relative paths in the file are resolved against (the file's directory).</summary>
    public string BaseDirectory => Path.GetDirectoryName(SourcePath)!;

    public required ServiceConfig Service { get; init; }

    /// <summary>Sockets the supervisor binds once and hands to every generation, in order (fd 3, 4, ...).</summary>
    public required IReadOnlyList<ListenerConfig> Listeners { get; init; }

    public required ReadinessConfig Readiness { get; init; }

    public required OrchestrationConfig Orchestration { get; init; }

    public required ControlConfig Control { get; init; }

    public required ObservabilityConfig Observability { get; init; }

    /// <summary>Opt-in convergence: a change to the config file or to the watched paths relays.</summary>
    public WatchConfig Watch { get; init; } = new();
}

/// <summary>What the supervisor watches for a new version to relay to (docs/configuration.md, <c>watch</c>).</summary>
internal sealed record WatchConfig
{
    /// <summary>Relay when the config file changes.</summary>
    public bool Config { get; init; }

    /// <summary>Absolute files or directories (e.g. the app's binary, a release directory or its symlink); a change relays.</summary>
    public IReadOnlyList<string> Paths { get; init; } = [];

    /// <summary>A change must be quiet this long before it relays (a deploy writes several files).</summary>
    public TimeSpan Debounce { get; init; } = TimeSpan.FromSeconds(2);

    public bool Enabled => Config || Paths.Count > 0;
}

/// <summary>The service the supervisor runs: one process per generation.</summary>
internal sealed record ServiceConfig
{
    /// <summary>Service name; defaults to the config file's name without extension.</summary>
    public required string Name { get; init; }

    /// <summary>Program and arguments. Never empty. The program is looked up on PATH unless it contains '/'.</summary>
    public required IReadOnlyList<string> Command { get; init; }

    /// <summary>Extra environment, in file order, applied over the supervisor's own environment.</summary>
    public required IReadOnlyList<KeyValuePair<string, string>> Environment { get; init; }

    /// <summary>Absolute working directory of each generation; defaults to the config file's directory.</summary>
    public required string WorkingDirectory { get; init; }
}

/// <summary>One listening socket, e.g. <c>tcp://0.0.0.0:8080</c>, <c>tcp://[::1]:8080</c>, <c>udp://…</c>, <c>unix:///run/app.sock</c>.</summary>
internal sealed record ListenerConfig
{
    /// <summary>Name passed to the app in LISTEN_FDNAMES: [A-Za-z0-9_.-], at most 255 characters, unique.</summary>
    public required string Name { get; init; }

    /// <summary>The address exactly as written in the file (for messages).</summary>
    public required string Address { get; init; }

    public required ListenerKind Kind { get; init; }

    /// <summary>Host for tcp/udp: an IP literal (no brackets), or a DNS name resolved at bind time.</summary>
    public string? Host { get; init; }

    /// <summary>Port for tcp/udp (0 lets the kernel choose one).</summary>
    public int Port { get; init; }

    /// <summary>Absolute socket path for unix listeners.</summary>
    public string? Path { get; init; }

    /// <summary>listen() backlog for stream sockets.</summary>
    public int Backlog { get; init; } = 4096;
}

/// <summary>How the supervisor decides that a new generation is ready to serve.</summary>
internal enum ReadinessMode
{
    /// <summary>READY=1 if the app sends it; otherwise as soon as it waits for connections on every listener; with no listeners, after <see cref="ReadinessConfig.Delay"/>.</summary>
    Auto,
    /// <summary>Only an sd_notify READY=1 counts.</summary>
    Notify,
    /// <summary>Ready once a process of the generation waits for connections (accept/poll/epoll) on every listener.</summary>
    Listening,
    /// <summary>Ready after <see cref="ReadinessConfig.Delay"/> alive.</summary>
    Delay,
}

internal sealed record ReadinessConfig
{
    public ReadinessMode Mode { get; init; } = ReadinessMode.Auto;

    /// <summary>Start to ready deadline; EXTEND_TIMEOUT_USEC from the app can push it out.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Time alive after which mode <c>delay</c> (and <c>auto</c> without listeners) counts the generation ready.</summary>
    public TimeSpan Delay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>WATCHDOG_USEC given to the app; zero disables the watchdog. The app may also enable it itself by sending WATCHDOG_USEC=.</summary>
    public TimeSpan Watchdog { get; init; } = TimeSpan.Zero;
}

/// <summary>One pre-flight command: must exit 0 within its timeout, or the relay is refused.</summary>
internal sealed record PreflightCommand
{
    public required IReadOnlyList<string> Command { get; init; }

    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(60);
}

/// <summary>
/// The soak: how long the new generation serves under watch, and what counts as failing it. Its
/// health comes from the generation itself (HEALTH on its Aeterna session), never from a probe
/// through the shared listener, which could be answered by either generation.
/// </summary>
internal sealed record CanaryConfig
{
    public bool Enabled { get; init; } = true;

    /// <summary>How long the new generation serves under watch before the old one is retired.</summary>
    public TimeSpan SoakTime { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>This many failed health reports (or probes) in a row fail the soak.</summary>
    public int FailureThreshold { get; init; } = 3;

    /// <summary>A share of failed requests (5xx) above this, over the soak, fails it.</summary>
    public double MaxErrorRate { get; init; } = 0.1;

    /// <summary>…once at least this many requests were served (a few requests say nothing).</summary>
    public int MinRequests { get; init; } = 20;

    /// <summary>A generation with a session that sends no HEALTH for this long fails the soak.</summary>
    public TimeSpan HealthTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>A per-generation probe command for apps without a session; null: none.</summary>
    public ProbeConfig? Probe { get; init; }
}

/// <summary>
/// A command run against the new generation during the soak; exit 0 is healthy. In its arguments
/// and environment <c>${AETERNA_GENERATION}</c> and <c>${AETERNA_PID}</c> name the generation under
/// test (docs/configuration.md), so it can reach that generation itself.
/// </summary>
internal sealed record ProbeConfig
{
    public required IReadOnlyList<string> Command { get; init; }

    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(1);
}

internal enum HandoffMechanism { Auto, Pipe, Shm }

/// <summary>
/// State hand-over settings (step 5 of a relay): how the old generation's state reaches the new
/// one when both speak the Aeterna protocol. On by default: an app that registers state expects it
/// to survive relays; <c>enabled: false</c> relays it as if it were stateless.
/// </summary>
internal sealed record StateHandoffConfig
{
    public bool Enabled { get; init; } = true;

    /// <summary>Fixed path for the Aeterna protocol socket (AETERNA_SOCKET; seed 000's <c>socket_path</c>); null: beside the control socket.</summary>
    public string? SocketPath { get; init; }

    public HandoffMechanism Mechanism { get; init; } = HandoffMechanism.Auto;

    /// <summary>The budget of one export (freeze included) and of one import.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How often the active generation sends a checkpoint of its state; zero: never.</summary>
    public TimeSpan CheckpointInterval { get; init; }

    /// <summary>Where the last checkpoint is also written (atomically), so that a restarted supervisor resumes from it; null: kept in memory only.</summary>
    public string? CheckpointPath { get; init; }

    /// <summary>The new build's relay manifest for the schema pre-flight; null: found beside the program or .dll of the command.</summary>
    public string? Manifest { get; init; }

    /// <summary>The most serialized (copied) state a generation accepts; RelayMemory regions, passed by fd, don't count.</summary>
    public long MaxStateSize { get; init; } = 1L << 30;
}

internal sealed record RestartConfig
{
    /// <summary>First delay before restarting a generation that died outside a relay; doubles per consecutive crash.</summary>
    public TimeSpan BackoffInitial { get; init; } = TimeSpan.FromMilliseconds(100);

    public TimeSpan BackoffMax { get; init; } = TimeSpan.FromSeconds(30);
}

internal sealed record OrchestrationConfig
{
    /// <summary>Only "hot-relay" exists.</summary>
    public string Strategy { get; init; } = "hot-relay";

    public IReadOnlyList<PreflightCommand> Preflight { get; init; } = [];

    /// <summary>After SIGTERM, how long a retiring generation may take to finish before SIGKILL.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(30);

    public CanaryConfig Canary { get; init; } = new();

    public StateHandoffConfig StateHandoff { get; init; } = new();

    public RestartConfig Restart { get; init; } = new();
}

internal sealed record ControlConfig
{
    /// <summary>Absolute path of the control socket (mode 0600). Its directory also holds the per-generation notify sockets.</summary>
    public required string SocketPath { get; init; }
}

internal enum LogFormat { Text, Json }

internal enum LogLevel { Debug, Info, Warn, Error }

internal sealed record ObservabilityConfig
{
    /// <summary>Metrics endpoint as written (":9090" binds every interface, "127.0.0.1:9090" one); null when not configured.</summary>
    public string? MetricsAddress { get; init; }

    public LogLevel LogLevel { get; init; } = LogLevel.Info;

    public LogFormat LogFormat { get; init; } = LogFormat.Text;

    /// <summary>The relay history file (JSON lines, appended); null: relays.jsonl beside the control socket.</summary>
    public string? HistoryPath { get; init; }
}
