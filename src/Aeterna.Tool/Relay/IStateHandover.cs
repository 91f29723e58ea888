using Aeterna.Tool.Configuration;
using Aeterna.Tool.Supervision;

namespace Aeterna.Tool.Relay;

/// <summary>
/// Step 5 of a relay, "hand over state": between the new generation being ready and the soak.
/// Stateless services use <see cref="NoStateHandover"/>; the State Relay Protocol plugs in here.
/// </summary>
internal interface IStateHandover
{
    /// <summary>Moves state from <paramref name="from"/> to <paramref name="to"/>; returns a detail for the report, or throws <see cref="RelayFailedException"/>.</summary>
    Task<string> HandOverAsync(Generation from, Generation to, AeternaConfig config, CancellationToken cancel);
}

/// <summary>Stateless services: nothing to hand over.</summary>
internal sealed class NoStateHandover : IStateHandover
{
    public Task<string> HandOverAsync(Generation from, Generation to, AeternaConfig config, CancellationToken cancel) =>
        Task.FromResult("stateless: nothing to hand over");
}

/// <summary>A relay step failed; the orchestrator turns it into the report's outcome and reason.</summary>
internal sealed class RelayFailedException(RelayOutcome outcome, string reason) : Exception(reason)
{
    public RelayOutcome Outcome { get; } = outcome;
}
