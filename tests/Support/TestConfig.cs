using System.Text;

namespace Aeterna.Tests.Support;

/// <summary>Writes aeterna.yaml files for tests: one service, optional TCP listener on loopback.</summary>
internal sealed record TestConfig
{
    public required IReadOnlyList<string> Command { get; init; }

    /// <summary>Loopback TCP port for the listener; null for none.</summary>
    public int? Port { get; init; }

    /// <summary>The listener's name.</summary>
    public string ListenerName { get; init; } = "http";

    /// <summary>More loopback TCP listeners after the first, by name (written only with <see cref="Port"/>).</summary>
    public IReadOnlyDictionary<string, int> MoreListeners { get; init; } = new Dictionary<string, int>();

    public string Readiness { get; init; } = "notify";

    public string ReadyTimeout { get; init; } = "15s";

    /// <summary>readiness.delay (for mode delay).</summary>
    public string Delay { get; init; } = "200ms";

    public string? Watchdog { get; init; }

    public string Soak { get; init; } = "0s";

    public string Drain { get; init; } = "10s";

    public IReadOnlyList<IReadOnlyList<string>> Preflight { get; init; } = [];

    public IReadOnlyList<string> Environment { get; init; } = [];

    /// <summary>orchestration.canary.probe.run, probing every 200 ms.</summary>
    public IReadOnlyList<string>? Probe { get; init; }

    /// <summary>orchestration.state_handoff keys (e.g. "timeout: 1s"), written when any is given.</summary>
    public IReadOnlyList<string> Handoff { get; init; } = [];

    /// <summary>observability keys (e.g. "metrics_port: \"127.0.0.1:9100\""), written when any is given.</summary>
    public IReadOnlyList<string> Observability { get; init; } = [];

    public string ToYaml()
    {
        static string List(IEnumerable<string> items) => "[" + string.Join(", ", items.Select(i => "\"" + i.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"")) + "]";
        var y = new StringBuilder();
        y.AppendLine("service:");
        y.AppendLine("  name: test");
        y.AppendLine($"  command: {List(Command)}");
        if (Environment.Count > 0) y.AppendLine($"  env: {List(Environment)}");
        if (Port is { } port)
        {
            y.AppendLine("listeners:");
            y.AppendLine($"  - name: {ListenerName}");
            y.AppendLine($"    address: tcp://127.0.0.1:{port}");
            foreach (var (name, more) in MoreListeners)
            {
                y.AppendLine($"  - name: {name}");
                y.AppendLine($"    address: tcp://127.0.0.1:{more}");
            }
        }
        y.AppendLine("readiness:");
        y.AppendLine($"  mode: {Readiness}");
        y.AppendLine($"  timeout: {ReadyTimeout}");
        y.AppendLine($"  delay: {Delay}");
        if (Watchdog is not null) y.AppendLine($"  watchdog: {Watchdog}");
        y.AppendLine("orchestration:");
        y.AppendLine($"  drain_timeout: {Drain}");
        y.AppendLine("  canary:");
        y.AppendLine($"    soak_time: {(Soak == "0s" ? "1ms" : Soak)}");
        y.AppendLine($"    enabled: {(Soak == "0s" ? "false" : "true")}");
        if (Probe is not null)
            y.AppendLine($"    probe: {{run: {List(Probe)}, interval: 200ms, timeout: 1s}}");
        y.AppendLine("  restart:");
        y.AppendLine("    backoff_initial: 50ms");
        y.AppendLine("    backoff_max: 1s");
        if (Handoff.Count > 0)
        {
            y.AppendLine("  state_handoff:");
            foreach (var line in Handoff) y.AppendLine($"    {line}");
        }
        if (Preflight.Count > 0)
        {
            y.AppendLine("  preflight:");
            foreach (var p in Preflight) y.AppendLine($"    - {List(p)}");
        }
        if (Observability.Count > 0)
        {
            y.AppendLine("observability:");
            foreach (var line in Observability) y.AppendLine($"  {line}");
        }
        return y.ToString();
    }

    public string WriteTo(TempDirectory dir) => dir.Write("aeterna.yaml", ToYaml());
}
