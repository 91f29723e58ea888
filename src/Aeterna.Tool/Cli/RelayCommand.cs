using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using Aeterna.Tool.Configuration;
using Aeterna.Tool.Control;
using Aeterna.Tool.Relay;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Aeterna.Tool.Cli;

/// <summary>`relay`: ask the running supervisor to relay to a new generation and wait for the outcome.</summary>
internal static class RelayCommand
{
    public static Command Create()
    {
        var config = AeternaCli.ConfigOption();
        var soak = new Option<string?>("--soak") { Description = "Soak time for this relay instead of canary.soak_time, e.g. 0 or 30s" };
        var json = new Option<bool>("--json") { Description = "Print the relay report as JSON" };
        var command = new Command("relay", "Relay to a new generation (re-reads the config) and wait for the outcome; exit 0 when committed") { config, soak, json };
        command.SetAction((parse, _) => RunAsync(parse.GetValue(config)!, parse.GetValue(soak), parse.GetValue(json)));
        return command;
    }

    private static async Task<int> RunAsync(FileInfo configFile, string? soakText, bool json)
    {
        double? soakMs = null;
        if (soakText is not null)
        {
            if (soakText.Trim() == "0") soakMs = 0;
            else if (Duration.TryParse(soakText, out var soak, out string? error)) soakMs = soak.TotalMilliseconds;
            else
            {
                Console.Error.WriteLine($"error: --soak '{soakText}': {error}");
                return ExitCodes.InvalidInput;
            }
        }
        // An invalid config that still names the control socket goes to the supervisor, which
        // refuses it with the errors and records the refusal in its history, as it does for SIGHUP.
        string? socket = ControlSession.LocateSocket(configFile, Console.Error, quietWhenInvalid: true);
        if (socket is null)
        {
            Console.Error.WriteLine("relay refused: the config is invalid, nothing was changed. Fix the errors above and relay again.");
            return ExitCodes.Refused;
        }
        if (!json) Console.WriteLine($"relaying ({configFile.Name}):");
        var request = new ControlRequest("relay", soakMs);
        if (!json && !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive)
            return await RunLiveAsync(socket, request);
        return await ControlSession.RunAsync(socket, request, response =>
        {
            if (response.Progress is { Started: false } p && !json)
                Console.WriteLine(PhaseLine(p));
            if (response.Report is not { } report) return null;
            if (json) Console.WriteLine(JsonSerializer.Serialize(response, ControlJson.Default.ControlResponse));
            else PrintOutcome(report);
            return ExitCode(report);
        }, Console.Error);
    }

    /// <summary>
    /// On a terminal: the phases that ended as plain lines, and below them the running phase with
    /// its elapsed time, redrawn ten times a second (Spectre.Console's live display). What stays on
    /// screen at the end is the same as the plain output.
    /// </summary>
    private static async Task<int> RunLiveAsync(string socket, ControlRequest request)
    {
        var gate = new Lock();
        var draw = new Lock();
        var ended = new List<string>();
        (string Phase, long Since)? running = null;
        RelayReport? final = null;
        int code = ExitCodes.Unreachable;

        IRenderable Render()
        {
            lock (gate)
            {
                var rows = ended.Select(line => (IRenderable)new Text(line)).ToList();
                if (running is { } r)
                    rows.Add(new Markup($"  {Markup.Escape(r.Phase),-10} [yellow]{"...",-6}[/] {Milliseconds(Stopwatch.GetElapsedTime(r.Since).TotalMilliseconds),10}  [grey]running[/]"));
                return new Rows(rows);
            }
        }

        await AnsiConsole.Live(Render()).AutoClear(false).Overflow(VerticalOverflow.Visible).StartAsync(async context =>
        {
            void Update()
            {
                lock (draw) context.UpdateTarget(Render());
            }

            using var stop = new CancellationTokenSource();
            var ticker = Task.Run(async () =>
            {
                try
                {
                    while (true)
                    {
                        await Task.Delay(100, stop.Token);
                        Update();
                    }
                }
                catch (OperationCanceledException) { }
            });
            code = await ControlSession.RunAsync(socket, request, response =>
            {
                if (response.Progress is { } p)
                {
                    lock (gate)
                    {
                        if (p.Started) running = (WireName.Of(p.Phase), Stopwatch.GetTimestamp());
                        else
                        {
                            ended.Add(PhaseLine(p));
                            running = null;
                        }
                    }
                    Update();
                }
                if (response.Report is not { } report) return null;
                final = report;
                return ExitCode(report);
            }, Console.Error);
            stop.Cancel();
            await ticker;
            lock (gate) running = null;
            Update();
        });
        if (final is not null) PrintOutcome(final);
        return code;
    }

    private static string PhaseLine(RelayProgress p) =>
        $"  {WireName.Of(p.Phase),-10} {(p.Ok ? "ok" : "FAILED"),-6} {Milliseconds(p.Milliseconds),10}  {p.Detail}";

    private static int ExitCode(RelayReport report) => report.Outcome switch
    {
        RelayOutcome.Committed => ExitCodes.Ok,
        RelayOutcome.Refused => ExitCodes.Refused,
        RelayOutcome.NotReady => ExitCodes.NotReady,
        _ => ExitCodes.RolledBack,
    };

    internal static void PrintOutcome(RelayReport report)
    {
        foreach (var check in report.Preflight.Where(c => !c.Ok && c.Output.Length > 0))
        {
            Console.WriteLine($"  output of '{check.Command}':");
            foreach (var line in check.Output.TrimEnd().Split('\n').TakeLast(20)) Console.WriteLine($"    | {line}");
        }
        if (report.Handover is { } h)
            Console.WriteLine($"state: {StateSize(h.StateBytes)} by {h.Mechanism}{(h.Regions > 0 ? $" + {h.Regions} memory region(s), {StateSize(h.RegionBytes)}, by fd" : "")}; handover latency {h.LatencyMs:0.###} ms");
        if (report.Outcome == RelayOutcome.Committed)
            Console.WriteLine($"committed in {Milliseconds(report.TotalMilliseconds).Trim()}: generation {report.ToGeneration} (pid {report.ToPid}) is active; generation {report.FromGeneration} retired");
        else
            Console.WriteLine($"relay {WireName.Of(report.Outcome).Replace('_', ' ')}: {report.Reason}\ngeneration {report.FromGeneration} (pid {report.FromPid}) keeps serving");
    }

    private static string StateSize(long bytes) => Relay.StateHandover.Bytes(bytes);

    internal static string Milliseconds(double ms) => ms >= 1000 ? $"{ms / 1000:0.00} s" : $"{ms:0.0} ms";
}
