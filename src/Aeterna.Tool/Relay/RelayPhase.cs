namespace Aeterna.Tool.Relay;

/// <summary>The steps of a relay, in the order <see cref="RelayOrchestrator"/> runs them.</summary>
internal enum RelayPhase
{
    /// <summary>Re-read the config: the desired state.</summary>
    Config,
    /// <summary>The built-in checks and the configured commands.</summary>
    Preflight,
    /// <summary>Generation n+1 is spawned beside n.</summary>
    Start,
    /// <summary>n+1 says it is ready (or the readiness fallback sees it).</summary>
    Ready,
    /// <summary>n's state moves to n+1 (stateful services).</summary>
    Handover,
    /// <summary>n+1 serves under watch.</summary>
    Soak,
    /// <summary>n+1 becomes the active generation; n drains and exits.</summary>
    Commit,
}
