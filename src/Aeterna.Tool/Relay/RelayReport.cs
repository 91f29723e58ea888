using System.Text.Json.Serialization;

namespace Aeterna.Tool.Relay;

/// <summary>How a relay ended. The CLI's exit code for each is in docs/cli.md.</summary>
internal enum RelayOutcome
{
    /// <summary>The new generation serves; the old one has drained and exited.</summary>
    Committed,
    /// <summary>Nothing was started: invalid config, failed pre-flight, another relay running, or the supervisor stopping.</summary>
    Refused,
    /// <summary>The new generation exited or timed out before it was ready; the old one was never touched.</summary>
    NotReady,
    /// <summary>The new generation failed during the soak and was retired; the old one serves on.</summary>
    RolledBack,
}

/// <summary>One phase of a relay as it happened.</summary>
internal sealed record PhaseResult(
    [property: JsonPropertyName("name")] RelayPhase Phase,
    [property: JsonPropertyName("ms")] double Milliseconds,
    bool Ok,
    string? Detail);

/// <summary>
/// Everything a relay did: phases with timings, the outcome and its reason. The orchestrator fills
/// it in as the relay goes; once it has ended it is what `relay --json` prints and a line of the
/// relay history (docs/cli.md lists the members in this order).
/// </summary>
internal sealed class RelayReport
{
    public required int Id { get; init; }

    /// <summary>What asked for it: "SIGHUP", "control socket" or "watch".</summary>
    public required string Trigger { get; init; }

    public DateTimeOffset StartedAt { get; init; } = DateTimeOffset.UtcNow;

    public RelayOutcome Outcome { get; set; }

    /// <summary>Why the relay was not committed (null when it was).</summary>
    public string? Reason { get; set; }

    public int? FromGeneration { get; set; }

    public int? ToGeneration { get; set; }

    public int? FromPid { get; set; }

    public int? ToPid { get; set; }

    [JsonPropertyName("total_ms")] public double TotalMilliseconds { get; set; }

    public List<PhaseResult> Phases { get; init; } = [];

    /// <summary>Output of the pre-flight commands, in order.</summary>
    public List<PreflightResult> Preflight { get; init; } = [];

    /// <summary>What the state hand-over moved; null for stateless services or when it did not happen.</summary>
    public HandoverReport? Handover { get; set; }

    /// <summary>What happened to the state when the relay rolled back after a hand-over.</summary>
    public string? Rollback { get; set; }
}

/// <summary>A pre-flight check: its command line, exit status and (the tail of) its output.</summary>
internal sealed record PreflightResult(string Command, bool Ok, string Status, [property: JsonPropertyName("ms")] double Milliseconds, string Output);
