using System.Collections;
using System.Globalization;
using Aeterna.Interop;
using Aeterna.Tool.Checkpoints;
using Aeterna.Tool.Configuration;
using Aeterna.Tool.Notify;
using Aeterna.Tool.Processes;
using Aeterna.Tool.Sockets;

namespace Aeterna.Tool.Supervision;

/// <summary>
/// Starts a generation the way systemd starts a socket-activated Type=notify service: the
/// listeners at fds 3, 4, … with LISTEN_FDS / LISTEN_FDNAMES / LISTEN_PID, NOTIFY_SOCKET, and
/// WATCHDOG_USEC when a watchdog is configured; and, for apps that speak the Aeterna protocol,
/// AETERNA_SOCKET with the generation's own AETERNA_TOKEN.
/// </summary>
internal sealed class GenerationLauncher(ProcessSpawner spawner, IReadOnlyList<BoundListener> listeners, string runtimeDirectory, string sessionSocket)
{
    /// <summary>Variables that describe the supervisor's own activation; a child must get ours, not these.</summary>
    private static readonly string[] ActivationVariables =
        ["LISTEN_FDS", "LISTEN_FDNAMES", "LISTEN_PID", "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "AETERNA_SOCKET", "AETERNA_TOKEN"];

    /// <param name="number">The generation number.</param>
    /// <param name="config">The config to start it with.</param>
    /// <param name="stateSource">The generation whose state it will import (a relay), or null.</param>
    /// <param name="restoreFrom">The checkpoint it will start from (a restart), or null.</param>
    public async Task<Generation> StartAsync(int number, AeternaConfig config, Generation? stateSource, Checkpoint? restoreFrom)
    {
        var notify = NotifySocket.Bind(Path.Combine(runtimeDirectory, $"notify-{number}.sock"));
        var secret = new byte[16];
        Libc.FillRandom(secret);
        string token = Convert.ToHexStringLower(secret);
        try
        {
            var spec = new SpawnSpec(
                config.Service.Command[0],
                config.Service.Command.Skip(1).ToArray(),
                BuildEnvironment(number, config, notify.Path, token),
                config.Service.WorkingDirectory,
                listeners.Select(l => l.Fd).ToArray());
            var process = await spawner.SpawnAsync(spec);
            return new Generation(number, config, token, process, notify, stateSource) { RestoreFrom = restoreFrom };
        }
        catch
        {
            notify.Dispose();
            throw;
        }
    }

    private List<string> BuildEnvironment(int number, AeternaConfig config, string notifySocket, string token)
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (DictionaryEntry e in Environment.GetEnvironmentVariables())
            env[(string)e.Key] = (string?)e.Value ?? "";
        foreach (var name in ActivationVariables)
            env.Remove(name);
        foreach (var (key, value) in config.Service.Environment)
            env[key] = value;

        if (listeners.Count > 0)
        {
            env["LISTEN_FDS"] = listeners.Count.ToString(CultureInfo.InvariantCulture);
            env["LISTEN_FDNAMES"] = string.Join(':', listeners.Select(l => l.Name));
            // LISTEN_PID is set by the exec shim: only the child knows its own pid.
        }
        env["NOTIFY_SOCKET"] = notifySocket;
        if (config.Readiness.Watchdog > TimeSpan.Zero)
            env["WATCHDOG_USEC"] = ((long)config.Readiness.Watchdog.TotalMicroseconds).ToString(CultureInfo.InvariantCulture);
        env["AETERNA_GENERATION"] = number.ToString(CultureInfo.InvariantCulture);
        env["AETERNA_SUPERVISOR_PID"] = Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        env["AETERNA_SOCKET"] = sessionSocket;
        env["AETERNA_TOKEN"] = token;
        return env.Select(kv => $"{kv.Key}={kv.Value}").ToList();
    }
}
