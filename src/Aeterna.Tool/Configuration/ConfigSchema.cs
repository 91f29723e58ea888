using System.Text.RegularExpressions;

namespace Aeterna.Tool.Configuration;

/// <summary>
/// The keys aeterna.yaml knows, per section, with an example of each for error fixes. Sections
/// are named by their dotted path; list items by the list's path ("listeners").
/// </summary>
internal static class ConfigSchema
{
    public static readonly string[] Root = ["version", "service", "listeners", "readiness", "orchestration", "handoff", "control", "observability", "watch"];
    public static readonly string[] Watch = ["config", "paths", "debounce"];
    public static readonly string[] Service = ["name", "command", "env", "working_dir"];
    public static readonly string[] Listener = ["name", "address", "backlog"];
    public static readonly string[] Readiness = ["mode", "timeout", "delay", "watchdog"];
    public static readonly string[] Orchestration = ["strategy", "preflight", "drain_timeout", "canary", "state_handoff", "restart"];
    public static readonly string[] Preflight = ["run", "timeout"];
    public static readonly string[] Canary = ["enabled", "soak_time", "failure_threshold", "max_error_rate", "min_requests", "health_timeout", "probe"];
    public static readonly string[] Probe = ["run", "interval", "timeout"];
    public static readonly string[] StateHandoff = ["enabled", "socket_path", "mechanism", "timeout", "max_state_size", "manifest", "checkpoint_interval", "checkpoint_path"];
    public static readonly string[] Restart = ["backoff_initial", "backoff_max"];
    public static readonly string[] Control = ["socket_path"];
    public static readonly string[] Observability = ["metrics_port", "log_level", "log_format", "history_path"];

    private static readonly (string Section, string[] Keys)[] Sections =
    [
        ("", Root), ("service", Service), ("listeners", Listener), ("readiness", Readiness),
        ("orchestration", Orchestration), ("orchestration.preflight", Preflight), ("orchestration.canary", Canary), ("orchestration.canary.probe", Probe),
        ("orchestration.state_handoff", StateHandoff), ("orchestration.restart", Restart), ("handoff", StateHandoff),
        ("control", Control), ("observability", Observability), ("watch", Watch),
    ];

    /// <summary>Names people reach for from other tools (compose, systemd), mapped to ours.</summary>
    private static readonly Dictionary<string, string> Synonyms = new(StringComparer.OrdinalIgnoreCase)
    {
        ["cmd"] = "command", ["args"] = "command", ["exec"] = "command", ["environment"] = "env",
        ["workdir"] = "working_dir", ["cwd"] = "working_dir", ["working_directory"] = "working_dir",
        ["listen"] = "listeners", ["sockets"] = "listeners", ["addr"] = "address", ["url"] = "address",
        ["soak"] = "soak_time", ["drain"] = "drain_timeout", ["strategy_name"] = "strategy", ["level"] = "log_level",
        ["format"] = "log_format", ["metrics"] = "metrics_port", ["metrics_address"] = "metrics_port", ["history"] = "history_path",
        ["socket"] = "socket_path", ["path"] = "socket_path", ["checks"] = "preflight", ["pre_flight"] = "preflight",
        ["state"] = "state_handoff", ["handover"] = "handoff",
    };

    private static readonly Dictionary<string, string> ExampleByPath = new(StringComparer.Ordinal)
    {
        ["version"] = "version: \"1.0\"",
        ["service"] = "service: {command: [\"python\", \"agent.py\"]}",
        ["service.name"] = "name: agent-core",
        ["service.command"] = "command: [\"python\", \"agent.py\"]",
        ["service.env"] = "env: [\"PYTHONUNBUFFERED=1\"]",
        ["service.working_dir"] = "working_dir: ./app",
        ["listeners"] = "listeners: [{name: http, address: \"tcp://0.0.0.0:8080\"}]",
        ["listeners[]"] = "- {name: http, address: \"tcp://0.0.0.0:8080\"}",
        ["listeners.name"] = "name: http",
        ["listeners.address"] = "address: tcp://0.0.0.0:8080",
        ["listeners.backlog"] = "backlog: 4096",
        ["readiness"] = "readiness: {mode: auto, timeout: 30s}",
        ["readiness.mode"] = "mode: auto",
        ["readiness.timeout"] = "timeout: 30s",
        ["readiness.delay"] = "delay: 1s",
        ["readiness.watchdog"] = "watchdog: 10s",
        ["orchestration"] = "orchestration: {strategy: hot-relay}",
        ["orchestration.strategy"] = "strategy: hot-relay",
        ["orchestration.preflight"] = "preflight: [[\"./check.sh\", \"--quick\"]]",
        ["orchestration.preflight[]"] = "- [\"./check.sh\", \"--quick\"]",
        ["orchestration.preflight.run"] = "run: [\"./check.sh\", \"--quick\"]",
        ["orchestration.preflight.timeout"] = "timeout: 30s",
        ["orchestration.drain_timeout"] = "drain_timeout: 30s",
        ["orchestration.canary"] = "canary: {enabled: true, soak_time: 30s}",
        ["orchestration.canary.enabled"] = "enabled: true",
        ["orchestration.canary.soak_time"] = "soak_time: 30s",
        ["orchestration.canary.failure_threshold"] = "failure_threshold: 3",
        ["orchestration.canary.max_error_rate"] = "max_error_rate: 5%",
        ["orchestration.canary.min_requests"] = "min_requests: 20",
        ["orchestration.canary.health_timeout"] = "health_timeout: 5s",
        ["orchestration.canary.probe"] = "probe: {run: [\"curl\", \"-sf\", \"--unix-socket\", \"/run/app/gen-${AETERNA_GENERATION}.sock\", \"http://probe/healthz\"]}",
        ["orchestration.canary.probe.run"] = "run: [\"/app/probe.sh\", \"${AETERNA_PID}\"]",
        ["orchestration.canary.probe.interval"] = "interval: 1s",
        ["orchestration.canary.probe.timeout"] = "timeout: 1s",
        ["orchestration.state_handoff"] = "state_handoff: {enabled: true, mechanism: pipe}",
        ["orchestration.restart"] = "restart: {backoff_initial: 100ms, backoff_max: 30s}",
        ["orchestration.restart.backoff_initial"] = "backoff_initial: 100ms",
        ["orchestration.restart.backoff_max"] = "backoff_max: 30s",
        ["handoff"] = "handoff: {mechanism: pipe, timeout: 5s}",
        ["control"] = "control: {socket_path: /run/aeterna/agent.sock}",
        ["control.socket_path"] = "socket_path: /run/aeterna/agent.sock",
        ["observability"] = "observability: {metrics_port: \":9090\", log_level: info}",
        ["observability.metrics_port"] = "metrics_port: \":9090\"",
        ["observability.log_level"] = "log_level: info",
        ["observability.log_format"] = "log_format: text",
        ["watch"] = "watch: {config: true, paths: [\"/app/current\"], debounce: 2s}",
        ["watch.config"] = "config: true",
        ["watch.paths"] = "paths: [\"/app/current\"]",
        ["watch.debounce"] = "debounce: 2s",
        ["observability.history_path"] = "history_path: /var/lib/aeterna/relays.jsonl",
        ["enabled"] = "enabled: true",
        ["socket_path"] = "socket_path: /tmp/aeterna_srp.sock",
        ["mechanism"] = "mechanism: pipe",
        ["timeout"] = "timeout: 5s",
        ["max_state_size"] = "max_state_size: 1GiB",
        ["manifest"] = "manifest: ./app/MyAgent.relay.json",
        ["checkpoint_interval"] = "checkpoint_interval: 10s",
        ["checkpoint_path"] = "checkpoint_path: /var/lib/agent/state.checkpoint",
    };

    /// <summary>An example line for <paramref name="path"/> ("listeners[2].address" → "address: tcp://0.0.0.0:8080").</summary>
    public static string Example(string path)
    {
        string item = Regex.Replace(path, @"\[\d+\]", "[]");
        if (ExampleByPath.TryGetValue(item, out string? example)) return example;
        string normalized = item.Replace("[]", "", StringComparison.Ordinal);
        if (ExampleByPath.TryGetValue(normalized, out example)) return example;
        string key = normalized[(normalized.LastIndexOf('.') + 1)..];
        return ExampleByPath.TryGetValue(key, out example) ? example : $"{key}: <value>";
    }

    /// <summary>The fix for an unknown <paramref name="key"/> in the section <paramref name="section"/> that allows <paramref name="valid"/>.</summary>
    public static string UnknownKeyFix(string key, string section, IReadOnlyList<string> valid)
    {
        string? close = ClosestKey(key, valid);
        if (close is not null) return $"Did you mean '{close}'?";
        var elsewhere = Sections.Where(s => s.Section != section && s.Keys.Contains(key, StringComparer.Ordinal)).Select(s => s.Section).ToList();
        string list = $"Valid keys here: {string.Join(", ", valid)}.";
        if (elsewhere.Count > 0)
            return $"'{key}' belongs under {string.Join(" or ", elsewhere.Select(s => s.Length == 0 ? "the top level" : $"'{s}'"))}: move it there. {list}";
        return $"Remove it or fix its spelling. {list}";
    }

    /// <summary>A valid key within edit distance 2 (or a known synonym) of <paramref name="key"/>, if any.</summary>
    public static string? ClosestKey(string key, IReadOnlyList<string> valid)
    {
        if (Synonyms.TryGetValue(key, out string? synonym) && valid.Contains(synonym)) return synonym;
        string lower = key.ToLowerInvariant().Replace('-', '_');
        string? best = null;
        int bestDistance = int.MaxValue;
        foreach (string candidate in valid)
        {
            int distance = EditDistance(lower, candidate);
            if (distance < bestDistance)
            {
                best = candidate;
                bestDistance = distance;
            }
        }
        return bestDistance <= 2 ? best : null;
    }

    /// <summary>Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps cost 1.</summary>
    public static int EditDistance(string a, string b)
    {
        if (Math.Abs(a.Length - b.Length) > 2 && (a.Length > 64 || b.Length > 64)) return int.MaxValue; // not close; skip the O(n·m) work
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++) d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
            }
        }
        return d[a.Length, b.Length];
    }
}
