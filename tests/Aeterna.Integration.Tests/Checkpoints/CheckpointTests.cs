using System.Diagnostics;
using Aeterna.Tests.Support;
using Xunit.Abstractions;

namespace Aeterna.Integration.Tests.Checkpoints;

/// <summary>
/// Crashes, not relays: a stateful generation killed with SIGKILL comes back from its last
/// checkpoint, losing at most what changed in one checkpoint interval; with a checkpoint file, a
/// restarted supervisor resumes too.
/// </summary>
public sealed class CheckpointTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_generation_killed_with_SIGKILL_restarts_from_its_last_checkpoint()
    {
        using var dir = new TempDirectory();
        int port = FreePort.Get();
        var config = Stateful(port, ["checkpoint_interval: 500ms"]).WriteTo(dir);
        await using var supervisor = SupervisorProcess.Start(config, output);
        var status = await supervisor.WaitForActiveAsync(1);
        int pid = status.GetProperty("generations")[0].GetProperty("pid").GetInt32();
        using var store = new StoreClient(port);
        var (floats, crc) = await store.FillMemoryAsync(1 << 20, seed: 5);

        // A client writes k0, k1, … without pause; the generation dies in the middle of it.
        using var stopWriting = new CancellationTokenSource();
        var writer = store.WriteTimedUntilAsync(stopWriting.Token);
        await Task.Delay(2500);
        long killedAt = Stopwatch.GetTimestamp();
        Assert.Equal(0, Posix.Kill(pid, Posix.SIGKILL));
        await supervisor.WaitForActiveAsync(2);
        await Task.Delay(300);
        stopWriting.Cancel();
        var (acknowledged, failed) = await writer;
        output.WriteLine(await supervisor.WaitForLogAsync("restored the checkpoint taken"));

        // What was lost: writes acknowledged before the kill that generation 2 does not have.
        var lost = new List<(string Key, long AcknowledgedAt)>();
        foreach (var write in acknowledged)
            if (await store.GetAsync(write.Key) is null) lost.Add(write);
        var window = lost.Count == 0 ? TimeSpan.Zero : Stopwatch.GetElapsedTime(lost.Min(l => l.AcknowledgedAt), killedAt);
        output.WriteLine($"{acknowledged.Count} writes acknowledged, {failed.Count} failed (in flight at the kill); {lost.Count} lost, all acknowledged in the last {window.TotalMilliseconds:0} ms before the kill");
        Assert.True(acknowledged.Count > 100, "the writer did not run");
        // Responses generation 1 had already sent reach the client a moment after the kill; anything
        // acknowledged later than that came from generation 2 (which takes a second to start) and must stay.
        Assert.All(lost, l => Assert.True(Stopwatch.GetElapsedTime(killedAt, l.AcknowledgedAt) < TimeSpan.FromMilliseconds(200), $"{l.Key} was acknowledged by the restarted generation and is gone"));
        // At most one interval (500 ms), plus the time a checkpoint takes to reach the supervisor on a busy machine.
        Assert.True(window < TimeSpan.FromMilliseconds(500 + 400), $"writes acknowledged {window.TotalMilliseconds:0} ms before the kill were lost: more than one checkpoint interval");
        Assert.Equal((floats, crc), await store.MemoryAsync()); // the region crossed by fd
    }

    [Fact]
    public async Task A_restarted_supervisor_resumes_from_the_checkpoint_file()
    {
        using var dir = new TempDirectory();
        int port = FreePort.Get();
        string file = dir.File("state/agent.checkpoint");
        var config = Stateful(port, ["checkpoint_interval: 300ms", $"checkpoint_path: {file}"]).WriteTo(dir);
        using var store = new StoreClient(port);
        await using (var first = SupervisorProcess.Start(config, output))
        {
            await first.WaitForActiveAsync(1);
            for (int i = 0; i < 50; i++) Assert.True(await store.PutAsync($"item{i}", $"value{i}"));
            var written = Stopwatch.StartNew();
            while (!File.Exists(file) && written.Elapsed < TimeSpan.FromSeconds(10)) await Task.Delay(50);
            await Task.Delay(1000); // a checkpoint with all fifty items
            first.Signal(Posix.SIGKILL); // the whole container goes away
            await first.WaitForExitAsync();
        }
        Assert.True(File.Exists(file));

        await using var second = SupervisorProcess.Start(config, output);
        await second.WaitForActiveAsync();
        output.WriteLine(await second.WaitForLogAsync("restored the checkpoint taken"));
        for (int i = 0; i < 50; i++) Assert.Equal($"value{i}", await store.GetAsync($"item{i}"));
    }

    [Fact]
    public async Task A_damaged_checkpoint_file_is_reported_and_the_service_starts_empty()
    {
        using var dir = new TempDirectory();
        int port = FreePort.Get();
        string file = dir.Write("agent.checkpoint", "AETERNA-CHECKPOINT 1\n{\"taken_at\":\"2026-01-01T00:00:00Z\",\"generation\":1,\"sections\":[],\"regions\":[],\"state_bytes\":0,\"crc32c\":1}\n");
        var config = Stateful(port, [$"checkpoint_path: {file}"]).WriteTo(dir);
        await using var supervisor = SupervisorProcess.Start(config, output);
        await supervisor.WaitForActiveAsync(1);
        var line = await supervisor.WaitForLogAsync("cannot use the checkpoint");
        Assert.Contains("CRC-32C", line);
        using var store = new StoreClient(port);
        Assert.Equal(0, (await store.WhoAsync()).Items);
    }

    private static TestConfig Stateful(int port, IReadOnlyList<string> handoff) =>
        new() { Command = ["dotnet", TestApps.StatefulApp], Port = port, Readiness = "auto", ReadyTimeout = "20s", Drain = "3s", Handoff = handoff };
}
