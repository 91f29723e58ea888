using System.Text.Json.Serialization;

namespace Aeterna.Protocol;

// The JSON payloads of the protocol's frames (docs/protocol.md, "Messages"). Field names are
// snake_case; unknown fields are ignored, so either side may add fields in a later version.
// Times are milliseconds (double); instants are CLOCK_MONOTONIC nanoseconds, which every process
// on the machine shares, so the supervisor can subtract one generation's instant from another's.

/// <summary>Generation → supervisor, first frame: who it is and what it speaks.</summary>
internal sealed record HelloMessage
{
    /// <summary>Lowest and highest protocol version the generation speaks.</summary>
    public required int[] Versions { get; init; }

    /// <summary>AETERNA_TOKEN from the generation's environment: proves which generation this is.</summary>
    public required string Token { get; init; }

    public required int Pid { get; init; }

    /// <summary>e.g. "aeterna-dotnet/0.1.0" or "aeterna-python/0.1.0".</summary>
    public string? Runtime { get; init; }

    /// <summary>Whether the generation has state to hand over (and so wants to import its predecessor's).</summary>
    public bool Stateful { get; init; }

    /// <summary>The names of its state sections (for the report).</summary>
    public string[]? StateTypes { get; init; }

    /// <summary>The state schema manifest (JSON) of the running build, for the next relay's pre-flight.</summary>
    public string? Schema { get; init; }

    /// <summary>The optional parts of the protocol it implements (<see cref="Protocol.Capabilities"/>).</summary>
    public string[]? Capabilities { get; init; }
}

/// <summary>Supervisor → generation: the session is open.</summary>
internal sealed record WelcomeMessage
{
    /// <summary>The protocol version both speak.</summary>
    public required int Version { get; init; }

    public required int Generation { get; init; }

    /// <summary>
    /// True when the generation must not accept connections until it has imported its
    /// predecessor's state (an IMPORT and a COMMIT follow its READY).
    /// </summary>
    public bool ExpectState { get; init; }

    /// <summary>The generation the state will come from.</summary>
    public int? FromGeneration { get; init; }

    /// <summary>pipe, shm or auto (state_handoff.mechanism).</summary>
    public string Mechanism { get; init; } = "auto";

    public int MaxFrameSize { get; init; } = FrameChannel.DefaultMaxPayload;

    public long MaxStateSize { get; init; }

    /// <summary>state_handoff.timeout: the budget of one export or import.</summary>
    public double TimeoutMs { get; init; }

    /// <summary>orchestration.drain_timeout: how long a retiring generation may take after SIGTERM before SIGKILL.</summary>
    public double DrainTimeoutMs { get; init; }

    /// <summary>How often to send HEALTH (0: don't).</summary>
    public double HealthIntervalMs { get; init; }

    /// <summary>How often to send a CHECKPOINT (0: don't).</summary>
    public double CheckpointIntervalMs { get; init; }

    /// <summary>With expect_state: the state comes from the supervisor's last checkpoint (a restart after a crash), not from a running generation.</summary>
    public bool FromCheckpoint { get; init; }

    /// <summary>The capabilities of HELLO the supervisor grants; only these may be used.</summary>
    public string[]? Capabilities { get; init; }
}

/// <summary>Supervisor → generation: the session is refused; the connection closes.</summary>
internal sealed record RejectMessage(string Code, string Message);

/// <summary>Generation → supervisor: warmed up. With expect_state it waits for IMPORT; otherwise it serves.</summary>
internal sealed record ReadyMessage(string? Detail = null);

/// <summary>Generation → supervisor: a status line (like sd_notify STATUS=).</summary>
internal sealed record StatusMessage(string Text);

/// <summary>Generation → supervisor: how the generation itself is doing (see docs/protocol.md).</summary>
internal sealed record HealthMessage(bool Ok, string? Detail = null, long Requests = 0, long Errors = 0);

/// <summary>Supervisor → exporting generation (transfer socket attached): stop accepting, finish in-flight work, export.</summary>
/// <remarks>With <paramref name="Connections"/>, the open connections of opted-in endpoints go with the state.</remarks>
internal sealed record FreezeMessage(int Transfer, string Mechanism, double DeadlineMs, bool Connections = false);

/// <summary>Exporting generation → supervisor: the export is complete and the generation is frozen.</summary>
internal sealed record FrozenMessage
{
    public required int Transfer { get; init; }

    /// <summary>When it stopped accepting (CLOCK_MONOTONIC ns): the start of the handover latency.</summary>
    public long StoppedAcceptingNs { get; init; }

    /// <summary>Time spent waiting for in-flight requests before exporting.</summary>
    public double QuiesceMs { get; init; }

    public double ExportMs { get; init; }

    public string Mechanism { get; init; } = "pipe";

    /// <summary>Serialized state bytes (copied).</summary>
    public long StateBytes { get; init; }

    /// <summary>RelayMemory regions handed over by fd (not copied), and their total size.</summary>
    public int Regions { get; init; }

    public long RegionBytes { get; init; }

    /// <summary>Client connections sent with the state (CONNECTIONS records), and their bytes.</summary>
    public int Connections { get; init; }

    public long ConnectionBytes { get; init; }
}

/// <summary>Supervisor → importing generation (transfer socket attached): read the state from it.</summary>
/// <remarks>With <paramref name="Connections"/> the transfer may carry CONNECTIONS frames; without, one is Malformed.</remarks>
internal sealed record ImportMessage(int Transfer, int FromGeneration, bool Connections = false);

/// <summary>Importing generation → supervisor: the state is read and applied; nothing served yet.</summary>
/// <remarks><paramref name="Connections"/> lists every handed connection as adopted or refused (null: none were handed).</remarks>
internal sealed record PreparedMessage(int Transfer, double ImportMs, long StateBytes, int Regions, PreparedConnections? Connections = null);

/// <summary>An importer's decision on each connection of a transfer.</summary>
internal sealed record PreparedConnections(ulong[] Adopted, RefusedConnection[] Refused);

/// <summary>
/// A connection the importer would not take: <c>unknown_endpoint</c>, <c>unknown_kind</c>,
/// <c>kind_mismatch</c>, <c>framing</c>, <c>session</c> or <c>fd_limit</c>; its exporter ends it.
/// </summary>
internal sealed record RefusedConnection(ulong Id, string Reason, string? Detail = null);

/// <summary>
/// Supervisor → exporting generation, after COMMIT to the importer: close(2) the adopted
/// connections (they are the importer's now) and end the refused ones. An id in neither list is refused.
/// </summary>
internal sealed record ReleaseMessage(int Transfer, ulong[] Adopted, RefusedConnection[] Refused);

/// <summary>Supervisor → importing generation: start serving on the state you imported.</summary>
internal sealed record CommitMessage(int Transfer);

/// <summary>Importing generation → supervisor: accepting connections now.</summary>
internal sealed record AcceptingMessage(int Transfer, long AcceptingNs);

/// <summary>Supervisor → a generation: the transfer is off. An importer discards what it read; an exporter stops exporting.</summary>
internal sealed record AbortMessage(int Transfer, string Reason);

/// <summary>Supervisor → the frozen generation: serve again, on the state you froze with (or were handed back).</summary>
internal sealed record ResumeMessage(int Transfer, string Reason);

/// <summary>A generation → supervisor: its part of the transfer failed.</summary>
internal sealed record FailedMessage(int Transfer, string Code, string Error);

/// <summary>
/// Generation → supervisor: a checkpoint. The fds are the sealed state memfd (as for mechanism shm)
/// followed by the RelayMemory regions, in the order of <see cref="Regions"/>.
/// </summary>
internal sealed record CheckpointMessage
{
    public required StateSection[] Sections { get; init; }

    public required StateRegion[] Regions { get; init; }

    public long StateBytes { get; init; }

    /// <summary>When the state was taken (CLOCK_MONOTONIC ns).</summary>
    public long TakenNs { get; init; }

    /// <summary>How long requests were held while it was taken.</summary>
    public double PauseMs { get; init; }
}

/// <summary>Exporter → importer, first transfer frame: what follows.</summary>
internal sealed record StateBeginMessage
{
    /// <summary>pipe: the state bytes follow in StateChunk frames; shm: they are in the first fd of StateRegions.</summary>
    public required string Mechanism { get; init; }

    /// <summary>The state sections, in order; their bytes are concatenated.</summary>
    public required StateSection[] Sections { get; init; }

    /// <summary>The RelayMemory regions; their fds come in StateRegions, in this order.</summary>
    public required StateRegion[] Regions { get; init; }

    public long StateBytes { get; init; }

    /// <summary>Client connections that follow in CONNECTIONS frames (0: none), and the sum of those frames' payload bytes.</summary>
    public int Connections { get; init; }

    public long ConnectionBytes { get; init; }
}

/// <summary>One state section: a registered state object (named by its type) and its serialized size.</summary>
internal sealed record StateSection(string Name, long Bytes);

/// <summary>One RelayMemory region: its name and size.</summary>
internal sealed record StateRegion(string Name, long Bytes);

/// <summary>Exporter → importer, last transfer frame: everything was sent.</summary>
internal sealed record StateEndMessage(long StateBytes, int Regions, int Connections = 0);

/// <summary>Source-generated serializers for every message: no reflection, trim- and AOT-safe.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(HelloMessage))]
[JsonSerializable(typeof(WelcomeMessage))]
[JsonSerializable(typeof(RejectMessage))]
[JsonSerializable(typeof(ReadyMessage))]
[JsonSerializable(typeof(StatusMessage))]
[JsonSerializable(typeof(HealthMessage))]
[JsonSerializable(typeof(FreezeMessage))]
[JsonSerializable(typeof(FrozenMessage))]
[JsonSerializable(typeof(ImportMessage))]
[JsonSerializable(typeof(PreparedMessage))]
[JsonSerializable(typeof(CommitMessage))]
[JsonSerializable(typeof(AcceptingMessage))]
[JsonSerializable(typeof(AbortMessage))]
[JsonSerializable(typeof(ResumeMessage))]
[JsonSerializable(typeof(FailedMessage))]
[JsonSerializable(typeof(ReleaseMessage))]
[JsonSerializable(typeof(CheckpointMessage))]
[JsonSerializable(typeof(StateBeginMessage))]
[JsonSerializable(typeof(StateEndMessage))]
internal sealed partial class ProtocolJson : JsonSerializerContext;
