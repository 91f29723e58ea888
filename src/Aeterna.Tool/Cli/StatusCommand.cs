using System.CommandLine;
using System.Text.Json;
using Aeterna.Tool.Control;

namespace Aeterna.Tool.Cli;

/// <summary>`status`: generations, listeners and recent relays of the running supervisor; `--watch` keeps a live view.</summary>
internal static class StatusCommand
{
    public static Command Create()
    {
        var config = AeternaCli.ConfigOption();
        var json = new Option<bool>("--json") { Description = "Print the status as JSON" };
        var watch = new Option<bool>("--watch", "-w") { Description = "Keep a live view, refreshed every second, until q or Ctrl-C" };
        var command = new Command("status", "Show the running supervisor's generations, listeners and recent relays") { config, json, watch };
        command.SetAction((parse, _) => parse.GetValue(watch)
            ? StatusWatch.RunAsync(parse.GetValue(config)!, parse.GetValue(json))
            : RunAsync(parse.GetValue(config)!, parse.GetValue(json)));
        return command;
    }

    private static async Task<int> RunAsync(FileInfo configFile, bool json)
    {
        string? socket = ControlSession.LocateSocket(configFile, Console.Error);
        if (socket is null) return ExitCodes.InvalidInput;
        return await ControlSession.RunAsync(socket, new ControlRequest("status"), response =>
        {
            if (response.Status is not { } status) return null;
            if (json) Console.WriteLine(JsonSerializer.Serialize(response, ControlJson.Default.ControlResponse));
            else Print(status, Console.Out);
            return ExitCodes.Ok;
        }, Console.Error);
    }

    internal static void Print(StatusSnapshot s, TextWriter o)
    {
        o.WriteLine($"{s.Service}: supervisor pid {s.SupervisorPid}, up {Uptime(s.UptimeSeconds)}, {s.Restarts} restart(s), {s.OrphansReaped} orphan(s) reaped");
        o.WriteLine($"config: {s.Config}");
        o.WriteLine($"{(s.Ready ? "ready" : "not ready")}: {s.ReadyReason}");
        if (s.RelayRunning is not null) o.WriteLine($"running: {s.RelayRunning}{(s.RelayPhaseSeconds is { } p ? $" for {StatusView.Seconds(p)}" : "")}");
        o.WriteLine(s.Listeners.Count == 0 ? "listeners: none" : "listeners: " + string.Join(", ", s.Listeners.Select(l => $"{l.Name} {l.Address}")));
        if (s.MetricsAddress is not null) o.WriteLine($"metrics: http://{s.MetricsAddress}/metrics");
        o.WriteLine("generations:");
        if (s.Generations.Count == 0) o.WriteLine("  (none running)");
        foreach (var g in s.Generations)
        {
            string state = g.StateBytes is { } bytes ? $"state {Relay.StateHandover.Bytes(bytes)}" : g.Stateful == true ? "stateful" : "";
            o.WriteLine($"  {(g.Active ? '*' : ' ')} {g.Generation,-4} pid {g.Pid,-8} {WireName.Of(g.State),-9} up {Uptime(g.UptimeSeconds),-10} {state,-16}{(g.StatusText is null ? "" : $"\"{g.StatusText}\"")}".TrimEnd());
        }
        if (s.Relays.Count > 0)
        {
            o.WriteLine($"recent relays{(s.HistoryPath is null ? "" : $" (history: {s.HistoryPath})")}:");
            foreach (var r in s.Relays)
            {
                o.WriteLine($"  #{r.Id,-4} {r.StartedAt:u} {WireName.Of(r.Outcome),-12} {RelayCommand.Milliseconds(r.TotalMilliseconds),10}  {r.FromGeneration}->{(r.ToGeneration?.ToString() ?? "-")}  {StatusView.Detail(r)}".TrimEnd());
                if (r.Phases.Count > 0) o.WriteLine($"        {StatusView.Phases(r)}");
            }
        }
    }

    internal static string Uptime(double seconds) => TimeSpan.FromSeconds(seconds) switch
    {
        { TotalDays: >= 1 } t => $"{(int)t.TotalDays}d {t.Hours}h",
        { TotalHours: >= 1 } t => $"{(int)t.TotalHours}h {t.Minutes}m",
        { TotalMinutes: >= 1 } t => $"{(int)t.TotalMinutes}m {t.Seconds}s",
        var t => $"{t.TotalSeconds:0.0}s",
    };
}
