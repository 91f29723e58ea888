using Aeterna.Tests.Support;
using Xunit.Abstractions;

namespace Aeterna.Integration.Tests.Observability;

/// <summary>
/// `status --watch` and the live `relay` progress in a real terminal: tmux runs the CLI against a
/// real supervisor, and capture-pane shows what a person would see.
/// </summary>
public sealed class StatusWatchTests(ITestOutputHelper output)
{
    private static string Cli(string arguments) => $"dotnet {SupervisorProcess.ToolDll} {arguments}";

    [Fact]
    public async Task Status_watch_shows_generations_pids_and_relays_and_follows_a_relay_until_q()
    {
        using var dir = new TempDirectory();
        string config = new TestConfig { Command = ["python3", TestApps.PythonServer], Port = FreePort.Get(), Drain = "5s" }.WriteTo(dir);
        await using var supervisor = SupervisorProcess.Start(config, output);
        var status = await supervisor.WaitForActiveAsync(1);
        string firstPid = status.GetProperty("generations")[0].GetProperty("pid").GetInt32().ToString();

        await using var terminal = await Tmux.StartAsync($"{Cli($"status -c {config} --watch")}; echo WATCH-EXITED $?; sleep 60");
        string screen = await terminal.WaitForAsync(s => s.Contains(firstPid) && s.Contains("last relays"), "generation 1's pid and the relays table");
        output.WriteLine(screen);
        Assert.Contains("generations", screen);
        Assert.Contains($"supervisor pid {supervisor.Pid}", screen);
        Assert.Matches(@"│ \* +│ 1 +│ " + firstPid + @" +│ active +│ yes +│", screen);
        Assert.Contains("(no relay yet)", screen);
        Assert.Contains("q or Ctrl-C quits", screen);

        var (code, report) = await supervisor.RelayAsync("--soak", "0");
        Assert.Equal(0, code);
        string secondPid = report.GetProperty("to_pid").GetInt32().ToString();
        screen = await terminal.WaitForAsync(s => s.Contains(secondPid) && s.Contains("committed") && !s.Contains(firstPid),
            "generation 2 active and relay 1 committed", TimeSpan.FromSeconds(10));
        output.WriteLine(screen);
        Assert.Matches(@"│ \* +│ 2 +│ " + secondPid + @" +│ active +│", screen);
        Assert.Matches(@"│ 1 +│ \d\d:\d\d:\d\d +│ committed +│ [0-9.]+ m?s +│ 1->2 +│ config", screen); // the relay row with its phases
        foreach (string phase in new[] { "config", "preflight", "start", "ready", "handover", "soak", "commit" })
            Assert.Contains(phase + "\u00A0", screen.Replace(' ', '\u00A0').Replace("\u00A0·\u00A0", " · ")); // each phase with its time

        await terminal.SendKeysAsync("q");
        await terminal.WaitForAsync(s => s.Contains("WATCH-EXITED 0"), "the view exiting with 0 on q", TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Status_watch_says_the_supervisor_is_unreachable_keeps_retrying_and_exits_on_ctrl_c()
    {
        using var dir = new TempDirectory();
        string config = new TestConfig { Command = ["python3", TestApps.PythonServer], Port = FreePort.Get(), Drain = "5s" }.WriteTo(dir);
        await using var terminal = await Tmux.StartAsync($"{Cli($"status -c {config} --watch")}; echo WATCH-EXITED $?; sleep 60");
        string screen = await terminal.WaitForAsync(s => s.Contains("supervisor unreachable"), "the unreachable panel");
        Assert.Contains("cannot reach the supervisor", screen);
        Assert.Contains("retrying every second", screen);

        await using var supervisor = SupervisorProcess.Start(config, output);
        var status = await supervisor.WaitForActiveAsync(1);
        string pid = status.GetProperty("generations")[0].GetProperty("pid").GetInt32().ToString();
        screen = await terminal.WaitForAsync(s => s.Contains(pid) && !s.Contains("supervisor unreachable"), "the supervisor once it runs", TimeSpan.FromSeconds(10));
        Assert.Contains("ready", screen);

        await terminal.SendKeysAsync("C-c");
        await terminal.WaitForAsync(s => s.Contains("WATCH-EXITED 0"), "the view exiting with 0 on Ctrl-C", TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Relay_shows_the_running_phase_with_its_time_on_a_terminal_and_plain_lines_otherwise()
    {
        using var dir = new TempDirectory();
        string config = new TestConfig { Command = ["python3", TestApps.PythonServer], Port = FreePort.Get(), Soak = "3s", Drain = "5s" }.WriteTo(dir);
        await using var supervisor = SupervisorProcess.Start(config, output);
        await supervisor.WaitForActiveAsync(1);

        await using var terminal = await Tmux.StartAsync($"{Cli($"relay -c {config}")}; echo RELAY-EXITED $?; sleep 60", height: 20);
        string soaking = await terminal.WaitForAsync(s => System.Text.RegularExpressions.Regex.IsMatch(s, @"soak +\.\.\. +[12]\.\d\d s +running"),
            "the soak running with its elapsed time");
        output.WriteLine(soaking);
        Assert.Matches(@"handover +ok +[0-9.]+ ms +stateless", soaking); // the phases before it, ended
        Assert.DoesNotContain("commit ", soaking);
        string done = await terminal.WaitForAsync(s => s.Contains("RELAY-EXITED"), "the relay's end", TimeSpan.FromSeconds(15));
        output.WriteLine(done);
        Assert.Contains("RELAY-EXITED 0", done);
        Assert.Matches(@"soak +ok +3\.\d\d s +healthy for 3 s", done);
        Assert.Matches(@"commit +ok ", done);
        Assert.Contains("committed in", done);
        Assert.DoesNotContain("running", done);

        // Not a terminal: the same lines, printed as each phase ends, and no live line.
        var (code, stdout, _) = await ToolCli.RunAsync("relay", "-c", config, "--soak", "0");
        Assert.Equal(0, code);
        Assert.Matches(@"soak +ok +[0-9.]+ ms +skipped", stdout);
        Assert.DoesNotContain("running", stdout);
        Assert.DoesNotContain("\u001b[", stdout); // no escape sequences in a pipe
    }
}
