using Aeterna.Addresses;
using YamlDotNet.RepresentationModel;

namespace Aeterna.Tool.Configuration;

/// <summary>The rules that tie keys together, checked once each key's own value is known to be valid.</summary>
internal static class ConfigChecks
{
    /// <summary>Where to point at a key's value; an empty value has no place of its own, so its key.</summary>
    private static YamlDotNet.Core.Mark At(YamlEntry entry) => ConfigMapper.IsNull(entry.Value) ? entry.KeyNode.Start : entry.Value.Start;

    public static void Listener(ListenerConfig listener, YamlSection section, ConfigMapper map)
    {
        if (listener.Kind == ListenerKind.Udp && section["backlog"] is { } backlog)
            map.Error(At(backlog), $"{section.Path} is a udp listener; backlog only applies to stream sockets (tcp, unix).", "Remove backlog from this listener.");
    }

    public static void Canary(CanaryConfig canary, YamlSection section, ConfigMapper map)
    {
        if (canary.Enabled && canary.SoakTime == TimeSpan.Zero && section["soak_time"] is { } soak)
            map.Error(At(soak), $"{soak.Path} is 0 while the canary is enabled.",
                "Use a positive soak time, e.g. soak_time: 30s, or set enabled: false to retire the old generation as soon as the new one is ready.");
    }

    public static void Restart(RestartConfig restart, YamlSection section, ConfigMapper map)
    {
        if (restart.BackoffMax >= restart.BackoffInitial) return;
        var entry = section["backoff_max"] ?? section["backoff_initial"]!;
        map.Error(At(entry),
            $"{section.Path}.backoff_max ({Duration.Format(restart.BackoffMax)}{(section.Contains("backoff_max") ? "" : ", the default")}) is less than backoff_initial ({Duration.Format(restart.BackoffInitial)}).",
            "Make backoff_max at least as long as backoff_initial.");
    }

    /// <summary>The rules between sections: unique listeners, a listener for readiness mode listening, a control socket no listener uses.</summary>
    public static void AcrossSections(AeternaConfig config, YamlSection root, ConfigMapper map)
    {
        var listeners = root["listeners"]?.Value as YamlSequenceNode;
        if (listeners is not null) UniqueListeners(listeners, map);

        if (config.Readiness.Mode == ReadinessMode.Listening && listeners is not { Children.Count: > 0 }
            && ConfigMapper.Child(root["readiness"]?.Value, "mode") is { } mode)
            map.Error(mode.Value.Start, "readiness.mode is 'listening', but there are no listeners to watch.",
                "Add a listener, or use mode: auto (READY=1 or a delay) or mode: notify.");

        if (ConfigMapper.Child(root["control"]?.Value, "socket_path") is { } socket
            && config.Listeners.FirstOrDefault(l => l.Kind == ListenerKind.Unix && Path.GetFullPath(l.Path!) == config.Control.SocketPath) is { } clash)
            map.Error(socket.Value.Start, $"control.socket_path is also the address of listener '{clash.Name}'.", "Use a different path for one of them.");
    }

    /// <summary>Listener names, and addresses other than port 0 ("any free port"), are unique; invalid ones were reported already.</summary>
    private static void UniqueListeners(YamlSequenceNode listeners, ConfigMapper map)
    {
        var names = new Dictionary<string, YamlDotNet.Core.Mark>(StringComparer.Ordinal);
        var addresses = new Dictionary<string, (YamlDotNet.Core.Mark At, string Name)>(StringComparer.Ordinal);
        for (int i = 0; i < listeners.Children.Count; i++)
        {
            var item = listeners.Children[i];
            string? name = null;
            if (ConfigMapper.Child(item, "name") is { Value: YamlScalarNode { Value: { } text } nameNode } && !ConfigMapper.IsNull(nameNode)
                && text.Length <= 255 && text.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '-'))
            {
                name = text;
                if (names.TryGetValue(text, out var first))
                    map.Error(nameNode.Start, $"two listeners are named '{text}' (the first on line {first.Line}).", "Give each listener its own name.");
                else
                    names[text] = nameNode.Start;
            }
            if (ConfigMapper.Child(item, "address") is { Value: YamlScalarNode { Value: { } written } addressNode }
                && ListenerAddress.TryParse(written.Trim(), out var address, out _, out _)
                && (address.Port != 0 || address.Kind == ListenerKind.Unix))
            {
                string identity = address.Kind == ListenerKind.Unix ? $"unix:{Path.GetFullPath(address.Path!)}" : $"{address.Kind}:{address.Host!.ToLowerInvariant()}:{address.Port}";
                if (addresses.TryGetValue(identity, out var other))
                    map.Error(addressNode.Start, $"listeners[{i}] has the same address as listener '{other.Name}' (line {other.At.Line}): {ConfigText.Show(written)}.",
                        "Give each listener its own address, or remove the duplicate.");
                else
                    addresses[identity] = (addressNode.Start, name ?? $"listeners[{i}]");
            }
        }
    }
}
