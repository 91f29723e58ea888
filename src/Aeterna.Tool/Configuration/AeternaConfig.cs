using Aeterna.Addresses;

namespace Aeterna.Tool.Configuration;

// The validated aeterna.yaml. ConfigLoader has checked every value and resolved every default
// (the table's, and the ones that depend on where the file is), so nothing downstream validates
// again. What each key means, and its default, is said once, in ConfigTable, which builds these
// records: a record is named for its section, a parameter for its key, in the table's order.
// Paths are absolute. A parameter has a doc tag when it says more than its key does.
#pragma warning disable CS1573 // (a parameter without a tag beside ones with)

/// <param name="SourcePath">The file this was read from.</param>
/// <param name="Listeners">In order: generation fds 3, 4, …</param>
internal sealed record AeternaConfig(string SourcePath, ServiceConfig Service, IReadOnlyList<ListenerConfig> Listeners, ReadinessConfig Readiness,
    OrchestrationConfig Orchestration, ControlConfig Control, ObservabilityConfig Observability, WatchConfig Watch);

/// <summary>One process per generation.</summary>
/// <param name="Command">Program and arguments; never empty.</param>
/// <param name="Environment">In file order, applied over the supervisor's own environment.</param>
internal sealed record ServiceConfig(string Name, IReadOnlyList<string> Command, IReadOnlyList<KeyValuePair<string, string>> Environment, string WorkingDirectory);

/// <param name="Address">The address exactly as written in the file (for messages), parsed into the rest.</param>
/// <param name="Host">tcp/udp: an IP literal (no brackets), or a DNS name resolved at bind time.</param>
/// <param name="Port">tcp/udp; 0 lets the kernel choose.</param>
/// <param name="Path">unix: the socket path.</param>
internal sealed record ListenerConfig(string Name, string Address, ListenerKind Kind, string? Host, int Port, string? Path, int Backlog);

internal enum ReadinessMode { Auto, Notify, Listening, Delay }

/// <param name="Watchdog">Zero: no watchdog (the app may still enable one by sending WATCHDOG_USEC=).</param>
internal sealed record ReadinessConfig(ReadinessMode Mode, TimeSpan Timeout, TimeSpan Delay, TimeSpan Watchdog);

/// <summary>One item of <c>orchestration.preflight</c>.</summary>
internal sealed record PreflightCommand(IReadOnlyList<string> Command, TimeSpan Timeout);

/// <summary>
/// The health the canary watches comes from the generation itself (HEALTH on its Aeterna
/// session, or the probe run against it), never from a probe through the shared listener, which
/// either generation could answer.
/// </summary>
internal sealed record CanaryConfig(bool Enabled, TimeSpan SoakTime, int FailureThreshold, double MaxErrorRate, int MinRequests, TimeSpan HealthTimeout, ProbeConfig? Probe);

/// <summary>Exit 0 is healthy.</summary>
/// <param name="Command">May hold <c>${AETERNA_GENERATION}</c> and <c>${AETERNA_PID}</c>, substituted per run.</param>
internal sealed record ProbeConfig(IReadOnlyList<string> Command, TimeSpan Interval, TimeSpan Timeout);

internal enum HandoffMechanism { Auto, Pipe, Shm }

/// <summary>
/// <c>orchestration.state_handoff</c> (or top-level <c>handoff</c>). On by default: an app that
/// registers state expects it to survive relays.
/// </summary>
/// <param name="SocketPath">The Aeterna protocol socket (AETERNA_SOCKET); by default beside the control socket.</param>
/// <param name="MaxStateSize">Bytes of serialized state; RelayMemory regions, passed by fd, don't count.</param>
/// <param name="Manifest">Null: found beside the program or .dll of the command.</param>
/// <param name="CheckpointInterval">Zero: no checkpoints.</param>
/// <param name="CheckpointPath">Null: checkpoints are kept in memory only.</param>
internal sealed record StateHandoffConfig(bool Enabled, string SocketPath, HandoffMechanism Mechanism, TimeSpan Timeout, long MaxStateSize,
    string? Manifest, TimeSpan CheckpointInterval, string? CheckpointPath);

internal sealed record RestartConfig(TimeSpan BackoffInitial, TimeSpan BackoffMax);

/// <summary>Its <c>strategy</c> has one value, so it is checked and not kept.</summary>
internal sealed record OrchestrationConfig(IReadOnlyList<PreflightCommand> Preflight, TimeSpan DrainTimeout, CanaryConfig Canary, StateHandoffConfig StateHandoff, RestartConfig Restart);

/// <param name="SocketPath">By default <see cref="ControlSocketPath.Default(string)"/>. Its directory also holds the notify sockets.</param>
internal sealed record ControlConfig(string SocketPath);

internal enum LogFormat { Text, Json }

internal enum LogLevel { Debug, Info, Warn, Error }

/// <param name="MetricsAddress">As written (":9090" binds every interface, "127.0.0.1:9090" one); null: no endpoint.</param>
/// <param name="HistoryPath">The relay history file; by default beside the control socket.</param>
internal sealed record ObservabilityConfig(string? MetricsAddress, LogLevel LogLevel, LogFormat LogFormat, string HistoryPath);

internal sealed record WatchConfig(bool Config, IReadOnlyList<string> Paths, TimeSpan Debounce)
{
    public bool Enabled => Config || Paths.Count > 0;
}
