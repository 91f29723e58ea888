using System.Diagnostics;
using Aeterna.Tool.Control;
using Aeterna.Tool.Relay;
using Aeterna.Tool.Supervision;

namespace Aeterna.Tool.Observability;

/// <summary>
/// The supervisor's metrics. What the status snapshot already knows (generations, restarts,
/// uptime) is read from it at scrape time; what only a relay's end knows (outcome, phase timings,
/// hand-over) is accumulated here by <see cref="RecordRelay"/>. docs/observability.md lists every
/// metric; the names follow Prometheus conventions (aeterna_ prefix, base units in the name,
/// counters end in _total).
/// </summary>
internal sealed class SupervisorMetrics
{
    // Every outcome and every phase has its series from the first scrape, so rate() works at once.
    // The enums' values are their indexes here (declared without explicit values).
    private static readonly IReadOnlyList<RelayOutcome> Outcomes = WireName.All<RelayOutcome>();
    private static readonly IReadOnlyList<RelayPhase> Phases = WireName.All<RelayPhase>();
    private static readonly IReadOnlyList<GenerationState> GenerationStates = WireName.All<GenerationState>();

    private readonly Lock _gate = new();
    private readonly long[] _relays = new long[Outcomes.Count];
    private readonly Histogram[] _relaySeconds = [.. Outcomes.Select(_ => new Histogram(Histogram.RelaySeconds))];
    private readonly Histogram[] _phaseSeconds = [.. Phases.Select(_ => new Histogram(Histogram.RelaySeconds))];
    private readonly Histogram _handoverLatency = new(Histogram.HandoverSeconds);
    private long _stateBytesTotal, _regionBytesTotal;
    private long? _lastStateBytes, _lastRegionBytes;
    private long _checkpoints;
    private long? _checkpointTimestamp; // Stopwatch ticks of the last checkpoint
    private long? _lastCheckpointBytes;

    /// <summary>Counts a finished relay: outcome, duration, each phase's duration, the hand-over.</summary>
    public void RecordRelay(RelayReport report)
    {
        int outcome = (int)report.Outcome;
        lock (_gate)
        {
            _relays[outcome]++;
            if (report.Handover is { } h)
            {
                _stateBytesTotal += h.StateBytes;
                _regionBytesTotal += h.RegionBytes;
                _lastStateBytes = h.StateBytes;
                _lastRegionBytes = h.RegionBytes;
            }
        }
        _relaySeconds[outcome].Observe(report.TotalMilliseconds / 1000);
        foreach (var phase in report.Phases)
            _phaseSeconds[(int)phase.Phase].Observe(phase.Milliseconds / 1000);
        if (report.Handover is { } handover)
            _handoverLatency.Observe(handover.LatencyMs / 1000);
    }

    /// <summary>
    /// The checkpoint hook: call it when the supervisor has taken a checkpoint of the active
    /// generation's state (state_handoff.checkpoint_interval). Until the first call no checkpoint
    /// series are written at all (rather than a made-up age).
    /// </summary>
    public void RecordCheckpoint(long bytes)
    {
        lock (_gate)
        {
            _checkpoints++;
            _checkpointTimestamp = Stopwatch.GetTimestamp();
            _lastCheckpointBytes = bytes;
        }
    }

    /// <summary>The whole exposition for one scrape, as text (tests).</summary>
    public string Render(StatusSnapshot s, bool ready, string version)
    {
        var into = new System.Buffers.ArrayBufferWriter<byte>(16 * 1024);
        Render(into, s, ready, version);
        return System.Text.Encoding.UTF8.GetString(into.WrittenSpan);
    }

    /// <summary>The whole exposition for one scrape, as UTF-8 into <paramref name="into"/> (cleared first).</summary>
    public void Render(System.Buffers.ArrayBufferWriter<byte> into, StatusSnapshot s, bool ready, string version)
    {
        var m = new PrometheusText(into);
        m.Family("aeterna_supervisor_info", MetricType.Gauge, "Always 1; the labels describe the supervisor: the service it runs and the Aeterna version.");
        m.Sample("aeterna_supervisor_info", 1, ("service", s.Service), ("version", version));

        m.Family("aeterna_supervisor_start_time_seconds", MetricType.Gauge, "When the supervisor started, in seconds since the Unix epoch.");
        m.Sample("aeterna_supervisor_start_time_seconds", Math.Round(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0 - s.UptimeSeconds, 3));

        m.Family("aeterna_supervisor_uptime_seconds", MetricType.Gauge, "How long the supervisor has been running.");
        m.Sample("aeterna_supervisor_uptime_seconds", Math.Round(s.UptimeSeconds, 3));

        m.Family("aeterna_active_generation", MetricType.Gauge, "Number of the active generation (1, 2, ...); 0 while none is (first start, or restarting after a crash).");
        m.Sample("aeterna_active_generation", s.ActiveGeneration ?? 0);

        var active = s.Generations.FirstOrDefault(g => g.Active);
        bool up = active is not null && active.State != GenerationState.Exited;
        m.Family("aeterna_child_up", MetricType.Gauge, "1 while the active generation's process is running, 0 otherwise.");
        m.Sample("aeterna_child_up", up ? 1 : 0);

        m.Family("aeterna_active_generation_uptime_seconds", MetricType.Gauge, "How long the active generation's process has been running (0 while none is).");
        m.Sample("aeterna_active_generation_uptime_seconds", up ? Math.Round(active!.UptimeSeconds, 3) : 0);

        m.Family("aeterna_ready", MetricType.Gauge, "1 when a generation is active and the supervisor is not stopping (what /readyz answers with 200), 0 otherwise.");
        m.Sample("aeterna_ready", ready ? 1 : 0);

        m.Family("aeterna_generations", MetricType.Gauge, "Generation processes the supervisor holds, by state (a relay has two: the old and the new).");
        foreach (var state in GenerationStates)
            m.Sample("aeterna_generations", s.Generations.Count(g => g.State == state), ("state", WireName.Of(state)));

        m.Family("aeterna_relay_running", MetricType.Gauge, "1 while a relay is in progress.");
        m.Sample("aeterna_relay_running", s.RelayRunning is null ? 0 : 1);

        m.Family("aeterna_restarts_total", MetricType.Counter, "Generations started again after the active one exited or missed its watchdog outside a relay.");
        m.Sample("aeterna_restarts_total", s.Restarts);

        m.Family("aeterna_orphans_reaped_total", MetricType.Counter, "Processes re-parented to the supervisor (PID 1 or child subreaper) and reaped by it.");
        m.Sample("aeterna_orphans_reaped_total", s.OrphansReaped);

        long[] relays;
        long stateTotal, regionTotal, checkpoints;
        long? lastState, lastRegion, checkpointAt, checkpointBytes;
        lock (_gate)
        {
            relays = [.. _relays];
            (stateTotal, regionTotal, lastState, lastRegion) = (_stateBytesTotal, _regionBytesTotal, _lastStateBytes, _lastRegionBytes);
            (checkpoints, checkpointAt, checkpointBytes) = (_checkpoints, _checkpointTimestamp, _lastCheckpointBytes);
        }

        m.Family("aeterna_relays_total", MetricType.Counter, "Relays since the supervisor started, by outcome: committed, refused (nothing started), not_ready (the new generation never became ready), rolled_back (it failed during the hand-over or soak).");
        for (int i = 0; i < Outcomes.Count; i++)
            m.Sample("aeterna_relays_total", relays[i], ("outcome", WireName.Of(Outcomes[i])));

        m.Family("aeterna_relay_duration_seconds", MetricType.Histogram, "Duration of whole relays, from the request to the outcome, by outcome.");
        for (int i = 0; i < Outcomes.Count; i++)
            m.Histogram(_relaySeconds[i], ("outcome", WireName.Of(Outcomes[i])));

        m.Family("aeterna_relay_phase_duration_seconds", MetricType.Histogram, "Duration of each relay phase (config, preflight, start, ready, handover, soak, commit), including a phase that failed.");
        for (int i = 0; i < Phases.Count; i++)
            m.Histogram(_phaseSeconds[i], ("phase", WireName.Of(Phases[i])));

        m.Family("aeterna_handover_latency_seconds", MetricType.Histogram, "State hand-over latency: from the old generation no longer accepting to the new one accepting (new connections wait in the kernel's accept queue meanwhile).");
        m.Histogram(_handoverLatency);

        m.Family("aeterna_handover_state_bytes_total", MetricType.Counter, "Serialized (copied) state bytes handed over from old to new generations.");
        m.Sample("aeterna_handover_state_bytes_total", stateTotal);

        m.Family("aeterna_handover_region_bytes_total", MetricType.Counter, "RelayMemory region bytes handed over by file descriptor (shared, not copied).");
        m.Sample("aeterna_handover_region_bytes_total", regionTotal);

        m.Family("aeterna_last_handover_state_bytes", MetricType.Gauge, "Serialized state bytes of the last hand-over (no sample before the first one).");
        if (lastState is { } ls) m.Sample("aeterna_last_handover_state_bytes", ls);

        m.Family("aeterna_last_handover_region_bytes", MetricType.Gauge, "RelayMemory region bytes of the last hand-over (no sample before the first one).");
        if (lastRegion is { } lr) m.Sample("aeterna_last_handover_region_bytes", lr);

        m.Family("aeterna_checkpoints_total", MetricType.Counter, "State checkpoints of the active generation taken by the supervisor (state_handoff.checkpoint_interval).");
        m.Sample("aeterna_checkpoints_total", checkpoints);

        m.Family("aeterna_last_checkpoint_age_seconds", MetricType.Gauge, "Age of the last state checkpoint: what a crash would lose at most (no sample while there is none).");
        if (checkpointAt is { } at) m.Sample("aeterna_last_checkpoint_age_seconds", Math.Round(Stopwatch.GetElapsedTime(at).TotalSeconds, 3));

        m.Family("aeterna_last_checkpoint_bytes", MetricType.Gauge, "Size of the last state checkpoint (no sample while there is none).");
        if (checkpointBytes is { } cb) m.Sample("aeterna_last_checkpoint_bytes", cb);
    }
}
