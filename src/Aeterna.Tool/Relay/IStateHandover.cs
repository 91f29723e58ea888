using Aeterna.Tool.Configuration;
using Aeterna.Tool.Supervision;

namespace Aeterna.Tool.Relay;

/// <summary>
/// Step 5 of a relay, "hand over state", and its undoing when the soak fails.
/// <see cref="StateHandover"/> is the Aeterna protocol's implementation.
/// </summary>
internal interface IStateHandover
{
    /// <summary>
    /// Moves state from <paramref name="from"/> to <paramref name="to"/>; null when there is none to
    /// move (a stateless service). On failure <paramref name="from"/> has resumed serving and the
    /// exception says why (<see cref="RelayFailedException"/>).
    /// </summary>
    Task<HandoverReport?> HandOverAsync(Generation from, Generation to, AeternaConfig config, CancellationToken cancel);

    /// <summary>
    /// After a successful hand-over, gives the state back: <paramref name="to"/> hands its state
    /// back to <paramref name="from"/> when it can, otherwise <paramref name="from"/> resumes from
    /// the state it froze with. Returns what happened to the state, for the report.
    /// </summary>
    Task<string> RollBackAsync(Generation from, Generation to, AeternaConfig config, CancellationToken cancel);
}

/// <summary>What a state hand-over moved and how long serving paused.</summary>
/// <param name="Mechanism">pipe or shm: how the copied bytes travelled.</param>
/// <param name="StateBytes">Serialized (copied) state.</param>
/// <param name="Regions">RelayMemory regions handed over by fd (not copied).</param>
/// <param name="RegionBytes">Their total size.</param>
/// <param name="LatencyMs">The old generation stopped accepting → the new one accepting: the time new connections waited in the queue.</param>
/// <param name="QuiesceMs">Waiting for the old generation's requests in flight.</param>
/// <param name="ExportMs">The old generation writing its state.</param>
/// <param name="ImportMs">The new generation reading and applying it.</param>
/// <param name="Connections">Client connections handed over with the state; null when the two generations do not hand connections.</param>
internal sealed record HandoverReport(string Mechanism, long StateBytes, int Regions, long RegionBytes, double LatencyMs, double QuiesceMs, double ExportMs, double ImportMs,
    ConnectionsReport? Connections = null);

/// <summary>What became of the client connections of one transfer.</summary>
/// <param name="Handed">Connections the exporter sent.</param>
/// <param name="Adopted">Those the importer serves now.</param>
/// <param name="Refused">Those it refused, which the exporter ended itself.</param>
/// <param name="Reasons">The refusals' reasons with their counts, e.g. "fd_limit × 3"; null when none.</param>
internal sealed record ConnectionsReport(int Handed, int Adopted, int Refused, string? Reasons);

/// <summary>A relay step failed; the orchestrator turns it into the report's outcome and reason.</summary>
internal sealed class RelayFailedException(RelayOutcome outcome, string reason) : Exception(reason)
{
    public RelayOutcome Outcome { get; } = outcome;
}
