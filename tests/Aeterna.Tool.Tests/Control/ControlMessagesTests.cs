using System.Text.Json;
using Aeterna.Tool.Control;
using Aeterna.Tool.Relay;
using Aeterna.Tool.Supervision;

namespace Aeterna.Tool.Tests.Control;

/// <summary>
/// The control protocol's JSON lines, byte for byte as docs/cli.md documents them (and as the relay
/// history stores reports): the domain records go out under the snake_case naming policy, and a
/// line read back by the CLI writes the same line again.
/// </summary>
public sealed class ControlMessagesTests
{
    private static RelayReport Report() => new()
    {
        Id = 3, Trigger = "SIGHUP", StartedAt = DateTimeOffset.Parse("2026-11-23T04:29:06.56+00:00"), Outcome = RelayOutcome.RolledBack, Reason = "why",
        FromGeneration = 3, ToGeneration = 4, FromPid = 57, ToPid = 88, TotalMilliseconds = 1546.61234,
        Phases = [new PhaseResult(RelayPhase.Config, 4.91234, true, "valid"), new PhaseResult(RelayPhase.Soak, 301.2, false, null)],
        Preflight = [new PreflightResult("./check.sh", true, "exited with code 0", 20.11111, "")],
        Handover = new HandoverReport("pipe", 52000, 1, 1073741824, 0.81234, 0.1, 2.0, 3.0), Rollback = "back",
    };

    public static TheoryData<string, string> Lines => new()
    {
        { "report", "{\"type\":\"report\",\"report\":{\"id\":3,\"trigger\":\"SIGHUP\",\"started_at\":\"2026-11-23T04:29:06.56+00:00\",\"outcome\":\"rolled_back\",\"reason\":\"why\",\"from_generation\":3,\"to_generation\":4,\"from_pid\":57,\"to_pid\":88,\"total_ms\":1546.612,\"phases\":[{\"name\":\"config\",\"ms\":4.912,\"ok\":true,\"detail\":\"valid\"},{\"name\":\"soak\",\"ms\":301.2,\"ok\":false}],\"preflight\":[{\"command\":\"./check.sh\",\"ok\":true,\"status\":\"exited with code 0\",\"ms\":20.111,\"output\":\"\"}],\"handover\":{\"mechanism\":\"pipe\",\"state_bytes\":52000,\"regions\":1,\"region_bytes\":1073741824,\"latency_ms\":0.812,\"quiesce_ms\":0.1,\"export_ms\":2,\"import_ms\":3},\"rollback\":\"back\"}}" },
        { "progress (end)", "{\"type\":\"progress\",\"progress\":{\"phase\":\"ready\",\"started\":false,\"ms\":310.212,\"ok\":true,\"detail\":\"READY=1\"}}" },
        { "progress (start)", "{\"type\":\"progress\",\"progress\":{\"phase\":\"soak\",\"started\":true,\"ms\":0,\"ok\":true}}" },
        { "error", "{\"type\":\"error\",\"error\":\"nope\"}" },
        { "ok", "{\"type\":\"ok\"}" },
        { "status", "{\"type\":\"status\",\"status\":{\"service\":\"svc\",\"supervisor_pid\":1,\"config\":\"/app/aeterna.yaml\",\"uptime_s\":12.5,\"active_generation\":4,\"relay_running\":\"relay 5 in phase \\u0027soak\\u0027\",\"restarts\":2,\"orphans_reaped\":3,\"listeners\":[{\"name\":\"http\",\"address\":\"tcp://0.0.0.0:8080\"}],\"generations\":[{\"generation\":4,\"pid\":88,\"state\":\"active\",\"uptime_s\":3600.25,\"status_text\":\"serving\",\"active\":true,\"ready\":true,\"stateful\":true,\"state_bytes\":1000},{\"generation\":5,\"pid\":99,\"state\":\"starting\",\"uptime_s\":0.5,\"active\":false,\"ready\":false}],\"relays\":[{\"id\":3,\"trigger\":\"SIGHUP\",\"started_at\":\"2026-11-23T04:29:06.56+00:00\",\"outcome\":\"rolled_back\",\"reason\":\"why\",\"from_generation\":3,\"to_generation\":4,\"from_pid\":57,\"to_pid\":88,\"total_ms\":1546.612,\"phases\":[{\"name\":\"config\",\"ms\":4.912,\"ok\":true,\"detail\":\"valid\"},{\"name\":\"soak\",\"ms\":301.2,\"ok\":false}],\"preflight\":[{\"command\":\"./check.sh\",\"ok\":true,\"status\":\"exited with code 0\",\"ms\":20.111,\"output\":\"\"}],\"handover\":{\"mechanism\":\"pipe\",\"state_bytes\":52000,\"regions\":1,\"region_bytes\":1073741824,\"latency_ms\":0.812,\"quiesce_ms\":0.1,\"export_ms\":2,\"import_ms\":3},\"rollback\":\"back\"}],\"ready\":true,\"ready_reason\":\"generation 4 (pid 88) is active\",\"relay_phase_s\":1.25,\"metrics_address\":\"[::]:9090\",\"history_path\":\"/var/lib/relays.jsonl\"}}" },
    };

    private static ControlResponse Response(string name) => name switch
    {
        "report" => new ControlResponse(ControlResponse.ReportType, Report: Report()),
        "progress (end)" => new ControlResponse(ControlResponse.ProgressType, Progress: new RelayProgress(RelayPhase.Ready, false, 310.21234, true, "READY=1")),
        "progress (start)" => new ControlResponse(ControlResponse.ProgressType, Progress: new RelayProgress(RelayPhase.Soak, true)),
        "error" => new ControlResponse(ControlResponse.Failed, Error: "nope"),
        "ok" => new ControlResponse(ControlResponse.Ok),
        _ => new ControlResponse(ControlResponse.StatusType, Status: new StatusSnapshot("svc", 1, "/app/aeterna.yaml", 12.5, 4, "relay 5 in phase 'soak'", 2, 3,
            [new ListenerStatus("http", "tcp://0.0.0.0:8080")],
            [new GenerationStatus(4, 88, GenerationState.Active, 3600.25, "serving", true) { Ready = true, Stateful = true, StateBytes = 1000 },
             new GenerationStatus(5, 99, GenerationState.Starting, 0.5, null, false) { Ready = false }],
            [Report()])
        {
            Ready = true, ReadyReason = "generation 4 (pid 88) is active", RelayPhaseSeconds = 1.25, MetricsAddress = "[::]:9090", HistoryPath = "/var/lib/relays.jsonl",
        }),
    };

    [Theory]
    [MemberData(nameof(Lines))]
    public void Each_response_is_written_as_documented_and_reads_back_to_the_same_line(string name, string line)
    {
        Assert.Equal(line, JsonSerializer.Serialize(Response(name), ControlJson.Default.ControlResponse));
        var read = JsonSerializer.Deserialize(line, ControlJson.Default.ControlResponse)!;
        Assert.Equal(line, JsonSerializer.Serialize(read, ControlJson.Default.ControlResponse));
    }

    [Fact]
    public void Requests_are_written_as_documented()
    {
        Assert.Equal("{\"command\":\"relay\",\"soak_ms\":0}", JsonSerializer.Serialize(new ControlRequest("relay", 0), ControlJson.Default.ControlRequest));
        Assert.Equal("{\"command\":\"status\"}", JsonSerializer.Serialize(new ControlRequest("status"), ControlJson.Default.ControlRequest));
        Assert.Equal(250, JsonSerializer.Deserialize("{\"command\":\"relay\",\"soak_ms\":250}", ControlJson.Default.ControlRequest)!.SoakMilliseconds);
    }

    [Fact]
    public void A_phase_or_outcome_the_supervisor_does_not_know_is_an_error_not_a_guess()
    {
        string line = JsonSerializer.Serialize(Report(), ControlJson.Default.RelayReport);
        Assert.Throws<JsonException>(() => JsonSerializer.Deserialize(line.Replace("\"rolled_back\"", "\"vanished\""), ControlJson.Default.RelayReport));
        Assert.Throws<JsonException>(() => JsonSerializer.Deserialize(line.Replace("\"outcome\":\"rolled_back\"", "\"outcome\":3"), ControlJson.Default.RelayReport));
    }
}
