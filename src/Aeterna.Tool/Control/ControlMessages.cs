using System.Text.Json;
using System.Text.Json.Serialization;
using Aeterna.Tool.Relay;
using Aeterna.Tool.Supervision;

namespace Aeterna.Tool.Control;

// The control socket speaks JSON lines: the client sends one request line, the supervisor answers
// with one or more response lines (relay streams its progress) and closes. docs/cli.md documents
// it. The relay's records (RelayReport, RelayProgress, …) cross it as they are: member names in
// snake_case, enums by WireName; [JsonPropertyName] only where the wire abbreviates (ms, _s).

/// <summary>A request from the CLI: "status", "relay" (optional soak_ms), "rollback" or "stop".</summary>
internal sealed record ControlRequest(string Command, [property: JsonPropertyName("soak_ms")] double? SoakMilliseconds = null);

/// <summary>One response line; <see cref="Type"/> says which of the other members is set.</summary>
internal sealed record ControlResponse(string Type, string? Error = null, RelayProgress? Progress = null, RelayReport? Report = null, StatusSnapshot? Status = null)
{
    public const string Ok = "ok", Failed = "error", ProgressType = "progress", ReportType = "report", StatusType = "status";
}

internal sealed record ListenerStatus(string Name, string Address);

/// <summary>One generation as `status` shows it, read from the <see cref="Supervision.Generation"/> at one instant.</summary>
internal sealed record GenerationStatus(int Generation, int Pid, GenerationState State, [property: JsonPropertyName("uptime_s")] double UptimeSeconds, string? StatusText, bool Active)
{
    /// <summary>It has passed readiness (ready, active, frozen or draining; not starting or exited).</summary>
    public bool Ready { get; init; }

    /// <summary>It opened an Aeterna session that holds relay state; null when it has no session.</summary>
    public bool? Stateful { get; init; }

    /// <summary>Size of the state it last handed over, took over or checkpointed (serialized + regions); null when unknown.</summary>
    public long? StateBytes { get; init; }
}

/// <summary>What `status` shows (and /status, /readyz and /metrics are made of): one consistent picture of the supervisor.</summary>
internal sealed record StatusSnapshot(
    string Service,
    int SupervisorPid,
    string Config,
    [property: JsonPropertyName("uptime_s")] double UptimeSeconds,
    int? ActiveGeneration,
    string? RelayRunning,
    int Restarts,
    long OrphansReaped,
    IReadOnlyList<ListenerStatus> Listeners,
    IReadOnlyList<GenerationStatus> Generations,
    IReadOnlyList<RelayReport> Relays)
{
    /// <summary>What /readyz says: a generation is active and running, and the supervisor is not stopping.</summary>
    public bool Ready { get; init; }

    /// <summary>Why (not) ready, in a sentence.</summary>
    public string? ReadyReason { get; init; }

    /// <summary>How long the running relay has been in its current phase.</summary>
    [JsonPropertyName("relay_phase_s")] public double? RelayPhaseSeconds { get; init; }

    /// <summary>Where the observability endpoint listens (observability.metrics_port, bound); null when off.</summary>
    public string? MetricsAddress { get; init; }

    /// <summary>The relay history file.</summary>
    public string? HistoryPath { get; init; }
}

/// <summary>
/// Numbers go out with at most three decimals (a microsecond in the _ms members, a millisecond in
/// the _s ones): more is noise from the clock, not information.
/// </summary>
internal sealed class ThreeDecimals : JsonConverter<double>
{
    public override double Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.GetDouble();

    public override void Write(Utf8JsonWriter writer, double value, JsonSerializerOptions options) => writer.WriteNumberValue(Math.Round(value, 3));
}

/// <summary>Source-generated serializers: no reflection, trim- and AOT-safe.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    Converters = [typeof(ThreeDecimals), typeof(WireName.Converter<RelayPhase>), typeof(WireName.Converter<RelayOutcome>), typeof(WireName.Converter<GenerationState>)])]
[JsonSerializable(typeof(ControlRequest))]
[JsonSerializable(typeof(ControlResponse))]
internal sealed partial class ControlJson : JsonSerializerContext;
