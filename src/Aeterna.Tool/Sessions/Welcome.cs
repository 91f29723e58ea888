using Aeterna.Protocol;
using Aeterna.Tool.Supervision;

namespace Aeterna.Tool.Sessions;

/// <summary>The WELCOME that answers a generation's HELLO: the session's terms, and whether to wait for state.</summary>
internal static class Welcome
{
    /// <summary>
    /// A generation must wait for state (not accept yet) when a relay started it to take over a
    /// stateful generation and both hold state, or when a restart feeds it the last checkpoint.
    /// </summary>
    public static WelcomeMessage For(Generation generation, HelloMessage hello)
    {
        var handoff = generation.Config.Orchestration.StateHandoff;
        var source = generation.StateSource;
        bool fromGeneration = handoff.Enabled && hello.Stateful && source is { HasExited: false, Session.Stateful: true };
        bool fromCheckpoint = handoff.Enabled && hello.Stateful && source is null && generation.RestoreFrom is not null;
        return new WelcomeMessage
        {
            Version = 1,
            Generation = generation.Number,
            ExpectState = fromGeneration || fromCheckpoint,
            FromGeneration = fromGeneration ? source!.Number : null,
            FromCheckpoint = fromCheckpoint,
            CheckpointIntervalMs = handoff.CheckpointInterval.TotalMilliseconds,
            Mechanism = handoff.Mechanism.ToString().ToLowerInvariant(),
            MaxFrameSize = FrameChannel.DefaultMaxPayload,
            MaxStateSize = handoff.MaxStateSize,
            TimeoutMs = handoff.Timeout.TotalMilliseconds,
            DrainTimeoutMs = generation.Config.Orchestration.DrainTimeout.TotalMilliseconds,
            // Three reports fit in the health timeout, so one late report is not silence.
            HealthIntervalMs = Math.Min(1000, generation.Config.Orchestration.Canary.HealthTimeout.TotalMilliseconds / 3),
            Capabilities = Granted(hello),
        };
    }

    /// <summary>What the generation asked for of what this supervisor implements; unknown names are left out, not refused.</summary>
    public static string[] Granted(HelloMessage hello) => [.. (hello.Capabilities ?? []).Where(c => Capabilities.All.Contains(c)).Distinct()];
}
