using System.CommandLine;
using System.Text.Json;
using Aeterna.Tool.Control;

namespace Aeterna.Tool.Cli;

/// <summary>`status`: generations, listeners and recent relays of the running supervisor.</summary>
internal static class StatusCommand
{
    public static Command Create()
    {
        var config = AeternaCli.ConfigOption();
        var json = new Option<bool>("--json") { Description = "Print the status as JSON" };
        var command = new Command("status", "Show the running supervisor's generations, listeners and recent relays") { config, json };
        command.SetAction((parse, _) => RunAsync(parse.GetValue(config)!, parse.GetValue(json)));
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
            else Print(status);
            return ExitCodes.Ok;
        }, Console.Error);
    }

    private static void Print(StatusSnapshot s)
    {
        Console.WriteLine($"{s.Service}: supervisor pid {s.SupervisorPid}, up {Uptime(s.UptimeSeconds)}, {s.Restarts} restart(s), {s.OrphansReaped} orphan(s) reaped");
        Console.WriteLine($"config: {s.Config}");
        if (s.RelayRunning is not null) Console.WriteLine($"running: {s.RelayRunning}");
        Console.WriteLine(s.Listeners.Count == 0 ? "listeners: none" : "listeners: " + string.Join(", ", s.Listeners.Select(l => $"{l.Name} {l.Address}")));
        Console.WriteLine("generations:");
        if (s.Generations.Count == 0) Console.WriteLine("  (none running)");
        foreach (var g in s.Generations)
            Console.WriteLine($"  {(g.Active ? '*' : ' ')} {g.Generation,-4} pid {g.Pid,-8} {g.State,-9} up {Uptime(g.UptimeSeconds),-10} {(g.StatusText is null ? "" : $"\"{g.StatusText}\"")}");
        if (s.Relays.Count > 0)
        {
            Console.WriteLine("recent relays:");
            foreach (var r in s.Relays)
                Console.WriteLine($"  #{r.Id,-4} {r.StartedAt:u} {r.Outcome,-12} {RelayCommand.Milliseconds(r.TotalMilliseconds),10}  {r.FromGeneration}->{(r.ToGeneration?.ToString() ?? "-")}  {r.Reason}");
        }
    }

    private static string Uptime(double seconds) => TimeSpan.FromSeconds(seconds) switch
    {
        { TotalDays: >= 1 } t => $"{(int)t.TotalDays}d {t.Hours}h",
        { TotalHours: >= 1 } t => $"{(int)t.TotalHours}h {t.Minutes}m",
        { TotalMinutes: >= 1 } t => $"{(int)t.TotalMinutes}m {t.Seconds}s",
        var t => $"{t.TotalSeconds:0.0}s",
    };
}
