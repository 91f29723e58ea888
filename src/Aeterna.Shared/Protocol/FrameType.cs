namespace Aeterna.Protocol;

/// <summary>
/// Every message of the Aeterna protocol (docs/protocol.md). The session messages travel between
/// a generation and the supervisor on AETERNA_SOCKET; the transfer messages travel between two
/// generations on the socket pair the supervisor hands them for one state transfer.
/// </summary>
internal enum FrameType : byte
{
    // Session: generation → supervisor unless noted.
    Hello = 0x01,
    /// <summary>Supervisor → generation.</summary>
    Welcome = 0x02,
    /// <summary>Supervisor → generation, then the supervisor closes.</summary>
    Reject = 0x03,
    Ready = 0x04,
    Status = 0x05,
    Health = 0x06,

    // The state hand-over, driven by the supervisor.
    /// <summary>Supervisor → exporting generation, with the transfer socket attached.</summary>
    Freeze = 0x10,
    Frozen = 0x11,
    /// <summary>Supervisor → importing generation, with the transfer socket attached.</summary>
    Import = 0x12,
    Prepared = 0x13,
    /// <summary>Supervisor → importing generation.</summary>
    Commit = 0x14,
    Accepting = 0x15,
    /// <summary>Supervisor → either generation.</summary>
    Abort = 0x16,
    /// <summary>Supervisor → the frozen generation.</summary>
    Resume = 0x17,
    Failed = 0x18,
    /// <summary>Supervisor → exporting generation, after COMMIT: which handed connections the importer adopted and refused.</summary>
    Release = 0x19,

    /// <summary>Generation → supervisor, with the state memfd and region fds: a checkpoint to restart from after a crash.</summary>
    Checkpoint = 0x20,

    // Transfer: exporting generation → importing generation.
    StateBegin = 0x30,
    StateChunk = 0x31,
    StateRegions = 0x32,
    StateEnd = 0x33,
    /// <summary>Exporter → importer: client connections, one socket fd per record (<see cref="ConnectionRecord"/>).</summary>
    Connections = 0x34,
}
