using Aeterna.Tool.Configuration;

namespace Aeterna.Tool.Relay;

/// <summary>Step 1 of a relay: the config file is the desired state.</summary>
internal interface IDesiredConfig
{
    /// <summary>
    /// The config to relay to; throws <see cref="RelayFailedException"/> (Refused) when it is
    /// invalid or changes what the supervisor holds for its whole life.
    /// </summary>
    AeternaConfig Read();
}

/// <summary>
/// Re-reads the file the supervisor was started with. The listeners, the control socket and the
/// session socket must stay as <paramref name="bound"/> has them: they are bound once.
/// </summary>
internal sealed class DesiredConfig(AeternaConfig bound) : IDesiredConfig
{
    public AeternaConfig Read()
    {
        var loaded = ConfigLoader.Load(bound.SourcePath);
        if (!loaded.Success)
            throw new RelayFailedException(RelayOutcome.Refused,
                $"the config is invalid, nothing was changed:\n{string.Join('\n', loaded.Errors)}");
        var config = loaded.Config!;
        if (UnchangeableDifference(config) is { } change)
            throw new RelayFailedException(RelayOutcome.Refused, change);
        return config;
    }

    /// <summary>What a relay cannot change, or null.</summary>
    private string? UnchangeableDifference(AeternaConfig next)
    {
        static string Describe(IEnumerable<ListenerConfig> ls) => string.Join(", ", ls.Select(l => $"{l.Name}={l.Address}"));
        if (Describe(next.Listeners) != Describe(bound.Listeners) || !next.Listeners.Select(l => l.Backlog).SequenceEqual(bound.Listeners.Select(l => l.Backlog)))
            return $"the listeners changed (from [{Describe(bound.Listeners)}] to [{Describe(next.Listeners)}]): the supervisor binds them once for its whole life. Fix: restore them in the config, or restart the supervisor to change them";
        if (next.Control.SocketPath != bound.Control.SocketPath)
            return $"control.socket_path changed (from {bound.Control.SocketPath} to {next.Control.SocketPath}). Fix: restore it, or restart the supervisor to change it";
        if (next.Orchestration.StateHandoff.SocketPath != bound.Orchestration.StateHandoff.SocketPath)
            return $"state_handoff.socket_path changed (from {bound.Orchestration.StateHandoff.SocketPath} to {next.Orchestration.StateHandoff.SocketPath}). Fix: restore it, or restart the supervisor to change it";
        return null;
    }
}
