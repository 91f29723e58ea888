using Aeterna.Addresses;

namespace Aeterna.Tool.Configuration;

// The validated aeterna.yaml. ConfigLoader has checked every value and resolved every default
// (the ones a new record has, and the ones that depend on where the file is), so nothing
// downstream validates again. What each key means is said once, in ConfigTable; a record is
// named for its section, a property for its key. Paths are absolute.

internal sealed record AeternaConfig
{
    /// <summary>The file this was read from.</summary>
    public required string SourcePath { get; init; }
    public required ServiceConfig Service { get; init; }

    /// <summary>In order: generation fds 3, 4, …</summary>
    public required IReadOnlyList<ListenerConfig> Listeners { get; init; }
    public required ReadinessConfig Readiness { get; init; }
    public required OrchestrationConfig Orchestration { get; init; }
    public required ControlConfig Control { get; init; }
    public required ObservabilityConfig Observability { get; init; }
    public WatchConfig Watch { get; init; } = new();
}

internal sealed record WatchConfig
{
    public bool Config { get; init; }
    public IReadOnlyList<string> Paths { get; init; } = [];
    public TimeSpan Debounce { get; init; } = TimeSpan.FromSeconds(2);
    public bool Enabled => Config || Paths.Count > 0;
}

/// <summary>One process per generation.</summary>
internal sealed record ServiceConfig
{
    public required string Name { get; init; }

    /// <summary>Program and arguments; never empty.</summary>
    public required IReadOnlyList<string> Command { get; init; }

    /// <summary>In file order, applied over the supervisor's own environment.</summary>
    public required IReadOnlyList<KeyValuePair<string, string>> Environment { get; init; }
    public required string WorkingDirectory { get; init; }
}

internal sealed record ListenerConfig
{
    public required string Name { get; init; }

    /// <summary>The address exactly as written in the file (for messages), parsed into the rest.</summary>
    public required string Address { get; init; }
    public required ListenerKind Kind { get; init; }

    /// <summary>tcp/udp: an IP literal (no brackets), or a DNS name resolved at bind time.</summary>
    public string? Host { get; init; }

    /// <summary>tcp/udp; 0 lets the kernel choose.</summary>
    public int Port { get; init; }

    /// <summary>unix: the socket path.</summary>
    public string? Path { get; init; }
    public int Backlog { get; init; } = 4096;
}

internal enum ReadinessMode { Auto, Notify, Listening, Delay }

internal sealed record ReadinessConfig
{
    public ReadinessMode Mode { get; init; } = ReadinessMode.Auto;
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);
    public TimeSpan Delay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Zero: no watchdog (the app may still enable one by sending WATCHDOG_USEC=).</summary>
    public TimeSpan Watchdog { get; init; } = TimeSpan.Zero;
}

/// <summary>One item of <c>orchestration.preflight</c>.</summary>
internal sealed record PreflightCommand
{
    public required IReadOnlyList<string> Command { get; init; }
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(60);
}

/// <summary>
/// The health the canary watches comes from the generation itself (HEALTH on its Aeterna
/// session, or the probe run against it), never from a probe through the shared listener, which
/// either generation could answer.
/// </summary>
internal sealed record CanaryConfig
{
    public bool Enabled { get; init; } = true;
    public TimeSpan SoakTime { get; init; } = TimeSpan.FromSeconds(10);
    public int FailureThreshold { get; init; } = 3;
    public double MaxErrorRate { get; init; } = 0.1;
    public int MinRequests { get; init; } = 20;
    public TimeSpan HealthTimeout { get; init; } = TimeSpan.FromSeconds(5);
    public ProbeConfig? Probe { get; init; }
}

/// <summary>Exit 0 is healthy.</summary>
internal sealed record ProbeConfig
{
    /// <summary>May hold <c>${AETERNA_GENERATION}</c> and <c>${AETERNA_PID}</c>, substituted per run.</summary>
    public required IReadOnlyList<string> Command { get; init; }
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(1);
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(1);
}

internal enum HandoffMechanism { Auto, Pipe, Shm }

/// <summary>
/// <c>orchestration.state_handoff</c> (or top-level <c>handoff</c>). On by default: an app that
/// registers state expects it to survive relays.
/// </summary>
internal sealed record StateHandoffConfig
{
    public bool Enabled { get; init; } = true;

    /// <summary>The Aeterna protocol socket (AETERNA_SOCKET); by default beside the control socket.</summary>
    public required string SocketPath { get; init; }
    public HandoffMechanism Mechanism { get; init; } = HandoffMechanism.Auto;
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Zero: no checkpoints.</summary>
    public TimeSpan CheckpointInterval { get; init; }

    /// <summary>Null: checkpoints are kept in memory only.</summary>
    public string? CheckpointPath { get; init; }

    /// <summary>Null: found beside the program or .dll of the command.</summary>
    public string? Manifest { get; init; }

    /// <summary>Bytes of serialized state; RelayMemory regions, passed by fd, don't count.</summary>
    public long MaxStateSize { get; init; } = 1L << 30;
}

internal sealed record RestartConfig
{
    public TimeSpan BackoffInitial { get; init; } = TimeSpan.FromMilliseconds(100);
    public TimeSpan BackoffMax { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>Its <c>strategy</c> has one value, so it is checked and not kept.</summary>
internal sealed record OrchestrationConfig
{
    public IReadOnlyList<PreflightCommand> Preflight { get; init; } = [];
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(30);
    public CanaryConfig Canary { get; init; } = new();
    public required StateHandoffConfig StateHandoff { get; init; }
    public RestartConfig Restart { get; init; } = new();
}

internal sealed record ControlConfig
{
    /// <summary>By default <see cref="ControlSocketPath.Default(string)"/>. Its directory also holds the notify sockets.</summary>
    public required string SocketPath { get; init; }
}

internal enum LogFormat { Text, Json }

internal enum LogLevel { Debug, Info, Warn, Error }

internal sealed record ObservabilityConfig
{
    /// <summary>As written (":9090" binds every interface, "127.0.0.1:9090" one); null: no endpoint.</summary>
    public string? MetricsAddress { get; init; }
    public LogLevel LogLevel { get; init; } = LogLevel.Info;
    public LogFormat LogFormat { get; init; } = LogFormat.Text;

    /// <summary>The relay history file; by default beside the control socket.</summary>
    public required string HistoryPath { get; init; }
}
