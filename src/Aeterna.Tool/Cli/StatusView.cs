using System.Globalization;
using Aeterna.Tool.Control;
using Aeterna.Tool.Relay;
using Aeterna.Tool.Supervision;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Aeterna.Tool.Cli;

/// <summary>The status snapshot as Spectre.Console renderables, for `status --watch` (CLI process only, never the supervisor).</summary>
internal static class StatusView
{
    /// <summary>
    /// The whole screen: a header, the generations, the last relays with their phase timings, and
    /// a footer. <paramref name="status"/> is the last snapshot received (null before the first);
    /// <paramref name="problem"/> is why the latest refresh failed, if it did.
    /// </summary>
    public static IRenderable Render(StatusSnapshot? status, string? problem, DateTimeOffset? updatedAt, int relays = 8)
    {
        var rows = new List<IRenderable>();
        if (problem is not null)
            rows.Add(new Panel(new Markup($"[red]{Markup.Escape(problem)}[/]\n[grey]retrying every second; q or Ctrl-C quits[/]"))
                .Header("[red] supervisor unreachable [/]").BorderColor(Color.Red).Expand());
        if (status is null)
        {
            if (problem is null) rows.Add(new Markup("[grey]connecting to the supervisor…[/]"));
            return new Rows(rows);
        }

        var s = status;
        rows.Add(new Markup(
            $"[bold]{Markup.Escape(s.Service)}[/]  supervisor pid {s.SupervisorPid} · up {StatusCommand.Uptime(s.UptimeSeconds)} · "
            + $"{s.Restarts} restart(s) · {(s.Ready ? "[green]ready[/]" : "[red]not ready[/]")}: {Markup.Escape(s.ReadyReason ?? "")}"));
        if (s.RelayRunning is not null)
            rows.Add(new Markup($"[yellow]running: {Markup.Escape(s.RelayRunning)}{(s.RelayPhaseSeconds is { } p ? $" for {Seconds(p)}" : "")}[/]"));
        if (s.MetricsAddress is not null || s.HistoryPath is not null)
            rows.Add(new Markup($"[grey]{(s.MetricsAddress is null ? "" : $"metrics http://{Markup.Escape(s.MetricsAddress)}/metrics · ")}history {Markup.Escape(s.HistoryPath ?? "")}[/]"));

        var generations = new Table().Border(TableBorder.Rounded).Title("[bold]generations[/]")
            .AddColumns("", "generation", "pid", "state", "ready", "uptime", "state size", "status");
        foreach (var g in s.Generations.OrderBy(g => g.Generation))
        {
            generations.AddRow(
                g.Active ? "[green]*[/]" : "",
                g.Generation.ToString(CultureInfo.InvariantCulture),
                g.Pid.ToString(CultureInfo.InvariantCulture),
                StateMarkup(g.State),
                g.Ready ? "[green]yes[/]" : "[yellow]no[/]",
                StatusCommand.Uptime(g.UptimeSeconds),
                StateSize(g),
                Markup.Escape(g.StatusText ?? ""));
        }
        if (s.Generations.Count == 0)
            generations.AddRow("", "[grey](none running)[/]", "", "", "", "", "", "");
        rows.Add(generations);

        var table = new Table().Border(TableBorder.Rounded).Title($"[bold]last relays[/]")
            .AddColumns("#", "started", "outcome", "total", "generations", "phases", "detail");
        foreach (var r in s.Relays.TakeLast(relays).Reverse())
        {
            table.AddRow(
                r.Id.ToString(CultureInfo.InvariantCulture),
                r.StartedAt.ToLocalTime().ToString("HH:mm:ss", CultureInfo.InvariantCulture),
                OutcomeMarkup(r.Outcome),
                RelayCommand.Milliseconds(r.TotalMilliseconds),
                $"{r.FromGeneration?.ToString(CultureInfo.InvariantCulture) ?? "-"}->{r.ToGeneration?.ToString(CultureInfo.InvariantCulture) ?? "-"}",
                Markup.Escape(Phases(r).Replace(" · ", "\u2009·\u2009", StringComparison.Ordinal).Replace(' ', '\u00A0').Replace('\u2009', ' ')),
                Markup.Escape(Detail(r)));
        }
        if (s.Relays.Count == 0)
            table.AddRow("", "[grey](no relay yet)[/]", "", "", "", "", "");
        rows.Add(table);
        rows.Add(new Markup($"[grey]updated {(updatedAt ?? DateTimeOffset.Now).ToLocalTime():HH:mm:ss} · refreshes every second · q or Ctrl-C quits[/]"));
        return new Rows(rows);
    }

    /// <summary>"config 5.0 ms · preflight 4.2 ms · …", a failed phase marked FAILED.</summary>
    internal static string Phases(RelayReport r) =>
        r.Phases.Count == 0 ? "-" : string.Join(" · ", r.Phases.Select(p => $"{WireName.Of(p.Phase)} {RelayCommand.Milliseconds(p.Milliseconds).Trim()}{(p.Ok ? "" : " FAILED")}"));

    /// <summary>The hand-over for a committed relay, the reason otherwise (shortened).</summary>
    internal static string Detail(RelayReport r)
    {
        string text = r.Outcome == RelayOutcome.Committed
            ? r.Handover is { } h ? $"{Relay.StateHandover.Bytes(h.StateBytes + h.RegionBytes)} handed over in {h.LatencyMs:0.###} ms" : ""
            : (r.Reason ?? "").ReplaceLineEndings(" ");
        return text.Length > 120 ? text[..117] + "..." : text;
    }

    private static string StateSize(GenerationStatus g) => g switch
    {
        { StateBytes: { } bytes } => Relay.StateHandover.Bytes(bytes),
        { Stateful: false } => "stateless",
        { Stateful: true } => "stateful",
        _ => "-",
    };

    private static string StateMarkup(GenerationState state) => state switch
    {
        GenerationState.Active => "[green]active[/]",
        GenerationState.Frozen => "[blue]frozen[/]",
        GenerationState.Starting or GenerationState.Draining => $"[yellow]{WireName.Of(state)}[/]",
        GenerationState.Exited => "[red]exited[/]",
        _ => WireName.Of(state),
    };

    private static string OutcomeMarkup(RelayOutcome outcome) => outcome switch
    {
        RelayOutcome.Committed => "[green]committed[/]",
        RelayOutcome.Refused => "[yellow]refused[/]",
        _ => $"[red]{WireName.Of(outcome)}[/]",
    };

    internal static string Seconds(double seconds) => seconds >= 60 ? StatusCommand.Uptime(seconds) : $"{seconds:0.0} s";
}
