using Aeterna.Addresses;
using YamlDotNet.RepresentationModel;

namespace Aeterna.Tool.Configuration;

/// <summary>
/// The rules that tie keys together, checked once each key's own value is known to be valid, and
/// the defaults that follow from other keys.
/// </summary>
internal static class ConfigChecks
{
    /// <summary>A udp listener has no backlog; names, and addresses other than port 0 ("any free port"), are unique among listeners.</summary>
    public static ListenerConfig Listener(ListenerConfig listener, YamlSection section)
    {
        var map = section.At.Map;
        if (listener.Kind == ListenerKind.Udp && section["backlog"] is { } backlog)
            map.Error(backlog.Place, $"{section.Path} is a udp listener; backlog only applies to stream sockets (tcp, unix).", "Remove backlog from this listener.");
        // A value that is not valid was reported already and left null.
        if (listener.Name is not null && section["name"]!.Node.Start is var name && map.Claim("name " + listener.Name, name, listener.Name) is { } first)
            map.Error(name, $"two listeners are named '{listener.Name}' (the first on line {first.At.Line}).", "Give each listener its own name.");
        if (listener.Address is not null && (listener.Port != 0 || listener.Kind == ListenerKind.Unix))
        {
            string identity = listener.Kind == ListenerKind.Unix ? $"unix:{Path.GetFullPath(listener.Path!)}" : $"{listener.Kind}:{listener.Host!.ToLowerInvariant()}:{listener.Port}";
            var address = section["address"]!.Node.Start;
            if (map.Claim(identity, address, listener.Name ?? section.Path) is { } other)
                map.Error(address, $"{section.Path} has the same address as listener '{other.Owner}' (line {other.At.Line}): {ConfigText.Show(listener.Address)}.",
                    "Give each listener its own address, or remove the duplicate.");
        }
        return listener;
    }

    public static CanaryConfig Canary(CanaryConfig canary, YamlSection section)
    {
        if (canary.Enabled && canary.SoakTime == TimeSpan.Zero && section["soak_time"] is { } soak)
            soak.Map.Error(soak.Place, $"{soak.Path} is 0 while the canary is enabled.",
                "Use a positive soak time, e.g. soak_time: 30s, or set enabled: false to retire the old generation as soon as the new one is ready.");
        return canary;
    }

    public static RestartConfig Restart(RestartConfig restart, YamlSection section)
    {
        if (restart.BackoffMax >= restart.BackoffInitial) return restart;
        var entry = section["backoff_max"] ?? section["backoff_initial"]!;
        // Each duration as written, or its default.
        string Text(string key) => section[key]?.Node is YamlScalarNode { Value: { Length: > 0 } text } ? text.Trim() : ConfigTable.Restart.Key(key)!.Default!;
        entry.Map.Error(entry.Place,
            $"{section.Path}.backoff_max ({Text("backoff_max")}{(section["backoff_max"] is null ? ", the default" : "")}) is less than backoff_initial ({Text("backoff_initial")}).",
            "Make backoff_max at least as long as backoff_initial.");
        return restart;
    }

    /// <summary>
    /// The rules between sections (one hand-over section, a listener for readiness mode listening,
    /// a control socket no listener uses) and the paths that default to beside the control socket.
    /// </summary>
    public static AeternaConfig Root(AeternaConfig config, YamlSection root)
    {
        var map = root.At.Map;
        if (root["handoff"] is { } top && ConfigMapper.Child(root["orchestration"]?.Node, "state_handoff") is { } nested)
            map.Error(top.Location, $"the state hand-over is configured twice: here and in orchestration.state_handoff (line {nested.Key.Start.Line}).",
                "Keep orchestration.state_handoff: move any settings from this 'handoff' section into it, then delete 'handoff'.");

        if (config.Readiness.Mode == ReadinessMode.Listening && root["listeners"]?.Node is not YamlSequenceNode { Children.Count: > 0 }
            && ConfigMapper.Child(root["readiness"]?.Node, "mode") is { } mode)
            map.Error(mode.Value.Start, "readiness.mode is 'listening', but there are no listeners to watch.",
                "Add a listener, or use mode: auto (READY=1 or a delay) or mode: notify.");

        if (ConfigMapper.Child(root["control"]?.Node, "socket_path") is { } socket
            && config.Listeners.FirstOrDefault(l => l.Kind == ListenerKind.Unix && Path.GetFullPath(l.Path!) == config.Control.SocketPath) is { } clash)
            map.Error(socket.Value.Start, $"control.socket_path is also the address of listener '{clash.Name}'.", "Use a different path for one of them.");

        // Left empty by their sections: the control socket's place is only known now.
        string Beside(string path, string file) => path.Length > 0 ? path : Path.Combine(Path.GetDirectoryName(config.Control.SocketPath)!, file);
        var (orchestration, observability) = (config.Orchestration, config.Observability);
        return config with
        {
            Orchestration = orchestration with { StateHandoff = orchestration.StateHandoff with { SocketPath = Beside(orchestration.StateHandoff.SocketPath, "aeterna.sock") } },
            Observability = observability with { HistoryPath = Beside(observability.HistoryPath, "relays.jsonl") },
        };
    }
}
