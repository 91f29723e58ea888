using System.Text.Json.Serialization.Metadata;
using Aeterna.Protocol;

namespace Aeterna.Fuzz.Targets;

/// <summary>The JSON decoder of every message the protocol has, by frame type, and a valid payload of each.</summary>
internal static class MessageDecoders
{
    public delegate object PayloadDecoder(ReadOnlySpan<byte> payload);

    public sealed record Message(FrameType Type, PayloadDecoder Decode, byte[] Valid);

    public static readonly IReadOnlyList<Message> All =
    [
        Of(FrameType.Hello, ProtocolJson.Default.HelloMessage, new HelloMessage { Versions = [1, 1], Token = "ab12", Pid = 42, Runtime = "aeterna-dotnet/0.1.0", Stateful = true, StateTypes = ["Chat", "Cache"], Schema = "{\"types\":[]}", Capabilities = ["connections"] }),
        Of(FrameType.Welcome, ProtocolJson.Default.WelcomeMessage, new WelcomeMessage { Version = 1, Generation = 3, ExpectState = true, FromGeneration = 2, Mechanism = "shm", MaxFrameSize = 1 << 20, MaxStateSize = 1 << 30, TimeoutMs = 5000, DrainTimeoutMs = 30000, HealthIntervalMs = 1000, CheckpointIntervalMs = 60000, FromCheckpoint = false, Capabilities = ["connections"] }),
        Of(FrameType.Reject, ProtocolJson.Default.RejectMessage, new RejectMessage("unknown_token", "no generation has this token")),
        Of(FrameType.Ready, ProtocolJson.Default.ReadyMessage, new ReadyMessage("warm")),
        Of(FrameType.Status, ProtocolJson.Default.StatusMessage, new StatusMessage("loading model")),
        Of(FrameType.Health, ProtocolJson.Default.HealthMessage, new HealthMessage(true, "fine", 10, 1)),
        Of(FrameType.Freeze, ProtocolJson.Default.FreezeMessage, new FreezeMessage(1, "pipe", 5000.5, Connections: true)),
        Of(FrameType.Frozen, ProtocolJson.Default.FrozenMessage, new FrozenMessage { Transfer = 1, StoppedAcceptingNs = 123456789, QuiesceMs = 1.5, ExportMs = 2.25, Mechanism = "shm", StateBytes = 50000, Regions = 2, RegionBytes = 8192, Connections = 2, ConnectionBytes = 300 }),
        Of(FrameType.Import, ProtocolJson.Default.ImportMessage, new ImportMessage(1, 2, Connections: true)),
        Of(FrameType.Prepared, ProtocolJson.Default.PreparedMessage, new PreparedMessage(1, 3.5, 50000, 2, new PreparedConnections([7, 8], [new RefusedConnection(9, "unknown_endpoint", "no endpoint chat")]))),
        Of(FrameType.Commit, ProtocolJson.Default.CommitMessage, new CommitMessage(1)),
        Of(FrameType.Accepting, ProtocolJson.Default.AcceptingMessage, new AcceptingMessage(1, 987654321)),
        Of(FrameType.Abort, ProtocolJson.Default.AbortMessage, new AbortMessage(1, "the canary failed")),
        Of(FrameType.Resume, ProtocolJson.Default.ResumeMessage, new ResumeMessage(1, "rolled back")),
        Of(FrameType.Release, ProtocolJson.Default.ReleaseMessage, new ReleaseMessage(1, [7, 8], [new RefusedConnection(9, "too_large")])),
        Of(FrameType.Failed, ProtocolJson.Default.FailedMessage, new FailedMessage(1, "too_large", "the state is larger than max_state_size")),
        Of(FrameType.Checkpoint, ProtocolJson.Default.CheckpointMessage, new CheckpointMessage { Sections = [new StateSection("Chat", 100)], Regions = [new StateRegion("embeddings", 4096)], StateBytes = 100, TakenNs = 42, PauseMs = 0.5 }),
        Of(FrameType.StateBegin, ProtocolJson.Default.StateBeginMessage, new StateBeginMessage { Mechanism = "pipe", Sections = [new StateSection("Chat", 10), new StateSection("Cache", 0)], Regions = [new StateRegion("r", 4096)], StateBytes = 10, Connections = 2, ConnectionBytes = 120 }),
        Of(FrameType.StateEnd, ProtocolJson.Default.StateEndMessage, new StateEndMessage(10, 1, 2)),
    ];

    /// <summary>The message decoder for frames of <paramref name="type"/>, or null for frames without a JSON payload.</summary>
    public static Message? For(FrameType type) => All.FirstOrDefault(m => m.Type == type);

    private static Message Of<T>(FrameType type, JsonTypeInfo<T> json, T valid) where T : notnull =>
        new(type, payload => Frame.Decode(type, payload, json), System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(valid, json));
}
