using System.Text.Json.Serialization;
using Aeterna.Tool.Relay;

namespace Aeterna.Tool.Control;

// The control socket speaks JSON lines: the client sends one request line, the supervisor answers
// with one or more response lines (relay streams its progress) and closes. docs/cli.md documents it.

/// <summary>A request from the CLI: "status", "relay" (optional soak_ms) or "stop".</summary>
internal sealed record ControlRequest(
    [property: JsonPropertyName("command")] string Command,
    [property: JsonPropertyName("soak_ms")] double? SoakMilliseconds = null);

/// <summary>One response line; <see cref="Type"/> says which of the other members is set.</summary>
internal sealed record ControlResponse(
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("error")] string? Error = null,
    [property: JsonPropertyName("progress")] ProgressDto? Progress = null,
    [property: JsonPropertyName("report")] ReportDto? Report = null,
    [property: JsonPropertyName("status")] StatusSnapshot? Status = null)
{
    public const string Ok = "ok", Failed = "error", ProgressType = "progress", ReportType = "report", StatusType = "status";
}

internal sealed record ProgressDto(
    [property: JsonPropertyName("phase")] string Phase,
    [property: JsonPropertyName("started")] bool Started,
    [property: JsonPropertyName("ms")] double Milliseconds,
    [property: JsonPropertyName("ok")] bool Ok,
    [property: JsonPropertyName("detail")] string? Detail)
{
    public static ProgressDto From(RelayProgress p) => new(WireName.Of(p.Phase), p.Started, Math.Round(p.Milliseconds, 3), p.Ok, p.Detail);
}

internal sealed record PhaseDto(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("ms")] double Milliseconds,
    [property: JsonPropertyName("ok")] bool Ok,
    [property: JsonPropertyName("detail")] string? Detail);

internal sealed record PreflightDto(
    [property: JsonPropertyName("command")] string Command,
    [property: JsonPropertyName("ok")] bool Ok,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("ms")] double Milliseconds,
    [property: JsonPropertyName("output")] string Output);

/// <summary>A relay report as it crosses the control socket.</summary>
internal sealed record ReportDto(
    [property: JsonPropertyName("id")] int Id,
    [property: JsonPropertyName("trigger")] string Trigger,
    [property: JsonPropertyName("started_at")] DateTimeOffset StartedAt,
    [property: JsonPropertyName("outcome")] string Outcome,
    [property: JsonPropertyName("reason")] string? Reason,
    [property: JsonPropertyName("from_generation")] int? FromGeneration,
    [property: JsonPropertyName("to_generation")] int? ToGeneration,
    [property: JsonPropertyName("from_pid")] int? FromPid,
    [property: JsonPropertyName("to_pid")] int? ToPid,
    [property: JsonPropertyName("total_ms")] double TotalMilliseconds,
    [property: JsonPropertyName("phases")] IReadOnlyList<PhaseDto> Phases,
    [property: JsonPropertyName("preflight")] IReadOnlyList<PreflightDto> Preflight,
    [property: JsonPropertyName("handover")] HandoverDto? Handover,
    [property: JsonPropertyName("rollback")] string? Rollback)
{
    public static ReportDto From(RelayReport r) => new(r.Id, r.Trigger, r.StartedAt, WireName.Of(r.Outcome), r.Reason,
        r.FromGeneration, r.ToGeneration, r.FromPid, r.ToPid, Math.Round(r.TotalMilliseconds, 3),
        r.Phases.Select(p => new PhaseDto(WireName.Of(p.Phase), Math.Round(p.Milliseconds, 3), p.Ok, p.Detail)).ToList(),
        r.Preflight.Select(p => new PreflightDto(p.Command, p.Ok, p.Status, Math.Round(p.Milliseconds, 3), p.Output)).ToList(),
        r.Handover is { } h ? HandoverDto.From(h) : null, r.Rollback);
}

/// <summary>The state hand-over of a relay: sizes, mechanism, and the handover latency.</summary>
internal sealed record HandoverDto(
    [property: JsonPropertyName("mechanism")] string Mechanism,
    [property: JsonPropertyName("state_bytes")] long StateBytes,
    [property: JsonPropertyName("regions")] int Regions,
    [property: JsonPropertyName("region_bytes")] long RegionBytes,
    [property: JsonPropertyName("latency_ms")] double LatencyMs,
    [property: JsonPropertyName("quiesce_ms")] double QuiesceMs,
    [property: JsonPropertyName("export_ms")] double ExportMs,
    [property: JsonPropertyName("import_ms")] double ImportMs)
{
    public static HandoverDto From(HandoverReport h) => new(h.Mechanism, h.StateBytes, h.Regions, h.RegionBytes,
        Math.Round(h.LatencyMs, 3), Math.Round(h.QuiesceMs, 3), Math.Round(h.ExportMs, 3), Math.Round(h.ImportMs, 3));
}

internal sealed record ListenerStatus(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("address")] string Address);

internal sealed record GenerationStatus(
    [property: JsonPropertyName("generation")] int Generation,
    [property: JsonPropertyName("pid")] int Pid,
    [property: JsonPropertyName("state")] string State,
    [property: JsonPropertyName("uptime_s")] double UptimeSeconds,
    [property: JsonPropertyName("status_text")] string? StatusText,
    [property: JsonPropertyName("active")] bool Active)
{
    /// <summary>It has passed readiness (ready, active, frozen or draining; not starting or exited).</summary>
    [JsonPropertyName("ready")] public bool Ready { get; init; }

    /// <summary>It opened an Aeterna session that holds relay state; null when it has no session.</summary>
    [JsonPropertyName("stateful")] public bool? Stateful { get; init; }

    /// <summary>Size of the state it last handed over, took over or checkpointed (serialized + regions); null when unknown.</summary>
    [JsonPropertyName("state_bytes")] public long? StateBytes { get; init; }
}

/// <summary>What `status` shows.</summary>
internal sealed record StatusSnapshot(
    [property: JsonPropertyName("service")] string Service,
    [property: JsonPropertyName("supervisor_pid")] int SupervisorPid,
    [property: JsonPropertyName("config")] string Config,
    [property: JsonPropertyName("uptime_s")] double UptimeSeconds,
    [property: JsonPropertyName("active_generation")] int? ActiveGeneration,
    [property: JsonPropertyName("relay_running")] string? RelayRunning,
    [property: JsonPropertyName("restarts")] int Restarts,
    [property: JsonPropertyName("orphans_reaped")] long OrphansReaped,
    [property: JsonPropertyName("listeners")] IReadOnlyList<ListenerStatus> Listeners,
    [property: JsonPropertyName("generations")] IReadOnlyList<GenerationStatus> Generations,
    [property: JsonPropertyName("relays")] IReadOnlyList<ReportDto> Relays)
{
    // Added by SupervisorObservability.Complete (docs/observability.md).

    /// <summary>What /readyz says: a generation is active and running, and the supervisor is not stopping.</summary>
    [JsonPropertyName("ready")] public bool Ready { get; init; }

    /// <summary>Why (not) ready, in a sentence.</summary>
    [JsonPropertyName("ready_reason")] public string? ReadyReason { get; init; }

    /// <summary>How long the running relay has been in its current phase.</summary>
    [JsonPropertyName("relay_phase_s")] public double? RelayPhaseSeconds { get; init; }

    /// <summary>Where the observability endpoint listens (observability.metrics_port, bound); null when off.</summary>
    [JsonPropertyName("metrics_address")] public string? MetricsAddress { get; init; }

    /// <summary>The relay history file.</summary>
    [JsonPropertyName("history_path")] public string? HistoryPath { get; init; }
}

/// <summary>Source-generated serializers: no reflection, trim- and AOT-safe.</summary>
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ControlRequest))]
[JsonSerializable(typeof(ControlResponse))]
internal sealed partial class ControlJson : JsonSerializerContext;
