using Aeterna.Tool.Checkpoints;
using Aeterna.Tool.Configuration;
using Aeterna.Tool.Processes;
using Aeterna.Tool.Supervision;

namespace Aeterna.Tool.Relay;

/// <summary>What a relay does with the supervisor's generations (<see cref="GenerationSet"/>).</summary>
internal interface IRelayGenerations
{
    /// <summary>The generation that serves: n, the one a relay starts from.</summary>
    Generation? Active { get; }

    /// <summary>Step 3: starts n+1 beside n, with the same listeners, to take over <paramref name="stateSource"/>'s state.</summary>
    Task<Generation> StartAsync(AeternaConfig config, Generation? stateSource = null, Checkpoint? restoreFrom = null);

    /// <summary>Step 7: n+1 becomes the active generation, its config the current one.</summary>
    void Activate(Generation generation);

    /// <summary>Drains a generation that served (SIGTERM, SIGKILL after <paramref name="drainTimeout"/>) and forgets it.</summary>
    Task<(ExitStatus Status, bool Killed)> RetireAsync(Generation generation, TimeSpan drainTimeout);

    /// <summary>Kills a generation that never served and forgets it.</summary>
    Task DiscardAsync(Generation generation);
}
