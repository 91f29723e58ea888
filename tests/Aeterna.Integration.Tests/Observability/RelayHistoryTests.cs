using System.Text.Json;
using Aeterna.Tool.Control;
using Aeterna.Tool.Observability;
using Aeterna.Tests.Support;
using Xunit.Abstractions;

namespace Aeterna.Integration.Tests.Observability;

/// <summary>The append-only relay history: its lines, its survival across supervisor restarts, torn lines, rotation.</summary>
public sealed class RelayHistoryTests(ITestOutputHelper output)
{
    private static ReportDto Report(int id, string outcome = "committed") =>
        new(id, "test", DateTimeOffset.UtcNow, outcome, outcome == "committed" ? null : "why", 1, 2, 10, 11, 12.5,
            [new PhaseDto("config", 1.5, true, "valid"), new PhaseDto("ready", 11, outcome == "committed", "READY=1")], [], null, null);

    [Fact]
    public async Task History_survives_a_supervisor_restart_status_shows_it_and_ids_go_on()
    {
        using var dir = new TempDirectory();
        int port = FreePort.Get();
        var config = new TestConfig
        {
            Command = ["python3", TestApps.PythonServer], Port = port, Drain = "5s",
            Observability = ["history_path: state/relays.jsonl"], // relative to the config; the directory is created
        };
        string configPath = config.WriteTo(dir);
        string history = Path.Combine(dir.Path, "state", "relays.jsonl");

        int firstPid, secondPid;
        await using (var supervisor = SupervisorProcess.Start(configPath, output))
        {
            var status = await supervisor.WaitForActiveAsync(1);
            Assert.Equal(history, status.GetProperty("history_path").GetString());
            firstPid = status.GetProperty("generations")[0].GetProperty("pid").GetInt32();
            var (code, report) = await supervisor.RelayAsync("--soak", "0");
            Assert.Equal(0, code);
            secondPid = report.GetProperty("to_pid").GetInt32();
            File.AppendAllText(configPath, "bogus: 1\n");
            (code, _) = await supervisor.RelayAsync();
            Assert.Equal(3, code);
            supervisor.Signal(Posix.SIGTERM);
            Assert.Equal(0, await supervisor.WaitForExitAsync());
        }

        string[] lines = File.ReadAllLines(history);
        Assert.Equal(2, lines.Length);
        var first = JsonDocument.Parse(lines[0]).RootElement;
        Assert.Equal(1, first.GetProperty("id").GetInt32());
        Assert.Equal("control socket", first.GetProperty("trigger").GetString());
        Assert.Equal("committed", first.GetProperty("outcome").GetString());
        Assert.True(first.GetProperty("started_at").GetDateTimeOffset() > DateTimeOffset.UtcNow.AddMinutes(-5));
        Assert.Equal(1, first.GetProperty("from_generation").GetInt32());
        Assert.Equal(2, first.GetProperty("to_generation").GetInt32());
        Assert.Equal(firstPid, first.GetProperty("from_pid").GetInt32());
        Assert.Equal(secondPid, first.GetProperty("to_pid").GetInt32());
        Assert.Equal(["config", "preflight", "start", "ready", "handover", "soak", "commit"],
            first.GetProperty("phases").EnumerateArray().Select(p => p.GetProperty("name").GetString()!).ToArray());
        Assert.All(first.GetProperty("phases").EnumerateArray(), p => Assert.True(p.GetProperty("ms").GetDouble() >= 0));
        var second = JsonDocument.Parse(lines[1]).RootElement;
        Assert.Equal(2, second.GetProperty("id").GetInt32());
        Assert.Equal("refused", second.GetProperty("outcome").GetString());
        Assert.Contains("bogus", second.GetProperty("reason").GetString());

        // A new supervisor for the same config: status shows the relays before it, numbering goes on.
        File.WriteAllText(configPath, config.ToYaml());
        await using (var again = SupervisorProcess.Start(configPath, output))
        {
            var status = await again.WaitForActiveAsync(1);
            Assert.Equal([1, 2], status.GetProperty("relays").EnumerateArray().Select(r => r.GetProperty("id").GetInt32()).ToArray());
            var (code, text, _) = await ToolCli.RunAsync("status", "-c", configPath);
            Assert.Equal(0, code);
            Assert.Contains("#1 ", text);
            Assert.Contains("committed", text);
            Assert.Contains("#2 ", text);
            Assert.Contains("refused", text);
            Assert.Contains("config ", text); // the phase timings
            Assert.Contains("soak ", text);
            var (relayCode, report) = await again.RelayAsync("--soak", "0");
            Assert.Equal(0, relayCode);
            Assert.Equal(3, report.GetProperty("id").GetInt32());
        }
        Assert.Equal(3, File.ReadAllLines(history).Length);
    }

    [Fact]
    public void Torn_and_foreign_lines_are_skipped_and_the_last_id_is_found()
    {
        using var dir = new TempDirectory();
        string path = dir.File("relays.jsonl");
        var writer = new RelayHistory(path);
        Assert.Equal(0, writer.LastId);
        Assert.Null(writer.Append(Report(7)));
        File.AppendAllText(path, "not json at all\n{\"id\": \"wrong type\"}\n");
        Assert.Null(writer.Append(Report(8, "rolled_back")));
        File.AppendAllText(path, "{\"id\":9,\"trigger\":\"SIGHUP\",\"outc"); // a crash mid-write

        var reader = new RelayHistory(path);
        Assert.Equal(8, reader.LastId);
        Assert.Equal([7, 8], reader.Recent(10).Select(r => r.Id).ToArray());
        Assert.Equal("rolled_back", reader.Recent(1)[0].Outcome);
        Assert.Equal("READY=1", reader.Recent(1)[0].Phases[1].Detail);
    }

    [Fact]
    public async Task Concurrent_appends_never_interleave_O_APPEND()
    {
        using var dir = new TempDirectory();
        string path = dir.File("relays.jsonl");
        var a = new RelayHistory(path);
        var b = new RelayHistory(path);
        await Task.WhenAll(
            Task.Run(() => { for (int i = 0; i < 200; i++) Assert.Null(a.Append(Report(i))); }),
            Task.Run(() => { for (int i = 1000; i < 1200; i++) Assert.Null(b.Append(Report(i))); }));
        var ids = File.ReadAllLines(path).Select(l => JsonSerializer.Deserialize(l, ControlJson.Default.ReportDto)!.Id).ToList();
        Assert.Equal(400, ids.Count);
        Assert.Equal(Enumerable.Range(0, 200).Concat(Enumerable.Range(1000, 200)).ToHashSet(), ids.ToHashSet());
    }

    [Fact]
    public void A_full_file_is_rotated_once_and_both_are_read_back()
    {
        using var dir = new TempDirectory();
        string path = dir.File("relays.jsonl");
        var history = new RelayHistory(path, maxBytes: 2000);
        for (int i = 1; i <= 12; i++) Assert.Null(history.Append(Report(i)));
        Assert.True(File.Exists(path + ".1"));
        Assert.InRange(new FileInfo(path).Length, 1, 2000);
        Assert.InRange(new FileInfo(path + ".1").Length, 1, 2000);
        var reopened = new RelayHistory(path, maxBytes: 2000);
        Assert.Equal(12, reopened.LastId);
        var recent = reopened.Recent(50).Select(r => r.Id).ToArray();
        Assert.Equal(Enumerable.Range(13 - recent.Length, recent.Length).ToArray(), recent); // consecutive, oldest first, ending at 12
        Assert.True(recent.Length > 2);
    }

    [Fact]
    public void An_unwritable_history_path_fails_the_start_with_the_fix()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("blocker"), "a file where a directory should be");
        var history = new RelayHistory(Path.Combine(dir.File("blocker"), "relays.jsonl"));
        Assert.ThrowsAny<IOException>(history.EnsureWritable);
        // And what Append reports instead of throwing: a relay must not fail on its history.
        Assert.Contains("could not append relay 1", history.Append(Report(1)));
        Assert.Equal(1, Assert.Single(history.Recent(5)).Id); // status still shows it
    }
}
