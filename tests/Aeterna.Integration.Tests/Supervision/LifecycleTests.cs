using System.Diagnostics;
using System.Net.Sockets;
using Aeterna.Integration.Tests.Relay;
using Aeterna.Tests.Support;
using Xunit.Abstractions;

namespace Aeterna.Integration.Tests.Supervision;

/// <summary>Outside relays: crashes, back-off, a killed supervisor, and what 50 relays leave behind.</summary>
public sealed class LifecycleTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_generation_killed_outside_a_relay_is_restarted_and_no_client_is_refused()
    {
        using var dir = new TempDirectory();
        int port = FreePort.Get();
        var config = new TestConfig { Command = ["python3", TestApps.PythonServer, "--mode", "slow-ready=1"], Port = port }.WriteTo(dir);
        await using var supervisor = SupervisorProcess.Start(config, output);
        var status = await supervisor.WaitForActiveAsync(1);
        int pid = status.GetProperty("generations")[0].GetProperty("pid").GetInt32();

        Assert.Equal(0, Posix.Kill(pid, Posix.SIGKILL));
        // While generation 2 starts (it takes a second to accept), connections queue in the
        // listener the supervisor holds: each one is answered, none is refused.
        var requests = Enumerable.Range(0, 10).Select(_ => RelayUnderLoadTests.ServingPidAsync($"http://127.0.0.1:{port}/")).ToArray();
        var pids = await Task.WhenAll(requests);
        Assert.All(pids, p => Assert.NotEqual(pid, p));
        status = await supervisor.WaitForActiveAsync(2);
        Assert.Equal(1, status.GetProperty("restarts").GetInt32());
        await supervisor.WaitForLogAsync("generation 1 (pid");
    }

    [Fact]
    public async Task A_crashing_service_is_restarted_with_growing_back_off()
    {
        using var dir = new TempDirectory();
        var config = new TestConfig { Command = ["sh", "-c", "sleep 0.2; exit 3"], Readiness = "delay", Delay = "50ms" }.WriteTo(dir);
        await using var supervisor = SupervisorProcess.Start(config, output);
        await supervisor.WaitForLogAsync("failure 4 in a row", TimeSpan.FromSeconds(30));
        var waits = supervisor.Log.Where(l => l.Contains("before the next start")).Select(l => int.Parse(l.Split("waiting ")[1].Split(' ')[0])).ToList();
        Assert.Equal([50, 100, 200, 400], waits.Take(4));
    }

    [Fact]
    public async Task Children_do_not_outlive_a_killed_supervisor()
    {
        using var dir = new TempDirectory();
        var config = new TestConfig { Command = ["sleep", "600"], Readiness = "delay", Delay = "50ms" }.WriteTo(dir);
        await using var supervisor = SupervisorProcess.Start(config, output);
        var status = await supervisor.WaitForActiveAsync(1);
        int child = status.GetProperty("generations")[0].GetProperty("pid").GetInt32();
        Assert.True(Posix.IsAlive(child));

        supervisor.Signal(Posix.SIGKILL);
        var clock = Stopwatch.StartNew();
        while (Posix.IsAlive(child) && clock.Elapsed < TimeSpan.FromSeconds(5)) await Task.Delay(20);
        Assert.False(Posix.IsAlive(child), "the generation survived its SIGKILLed supervisor");
    }

    [Fact]
    public async Task A_second_supervisor_on_the_same_port_refuses_to_start_instead_of_sharing_it()
    {
        using var dir = new TempDirectory();
        int port = FreePort.Get();
        var first = new TestConfig { Command = ["python3", TestApps.PythonServer], Port = port };
        await using var a = SupervisorProcess.Start(first.WriteTo(dir), output);
        var status = await a.WaitForActiveAsync(1);

        using var other = new TempDirectory();
        await using var b = SupervisorProcess.Start(first.WriteTo(other), output);
        Assert.Equal(6, await b.WaitForExitAsync());
        Assert.Contains(b.Log, l => l.Contains($"cannot bind listener 'http' (tcp://127.0.0.1:{port})") && l.Contains("Fix: stop the process that holds it"));
        // Every connection still goes to the first supervisor's service.
        int pid = status.GetProperty("generations")[0].GetProperty("pid").GetInt32();
        for (int i = 0; i < 20; i++) Assert.Equal(pid, await RelayUnderLoadTests.ServingPidAsync($"http://127.0.0.1:{port}/"));
    }

    [Fact]
    public async Task Fifty_relays_leave_no_fd_or_memory_behind()
    {
        using var dir = new TempDirectory();
        var config = new TestConfig { Command = ["sleep", "600"], Port = FreePort.Get(), Readiness = "delay", Delay = "10ms", Drain = "2s" }.WriteTo(dir);
        await using var supervisor = SupervisorProcess.Start(config, output);
        await supervisor.WaitForActiveAsync(1);
        int pid = supervisor.Pid; // `dotnet x.dll` runs the app in the muxer's own process

        (int Fds, long RssKiB) Measure() => (Directory.GetFiles($"/proc/{pid}/fd").Length,
            long.Parse(File.ReadAllLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:")).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]));

        // Warm up first: over its first relays the runtime JITs and re-JITs (tiered compilation) the
        // relay's code and the GC sizes its heap, which grows RSS by some 15 MiB once
        // (docs/benchmarks.md). A leak is growth after that.
        // Each figure is read once the supervisor has been quiet for two of its idle trim's periods
        // (the first gives the garbage back, the second the code pages), as it is in a pod.
        async Task<(int Fds, long RssKiB)> MeasureQuietAsync()
        {
            await Task.Delay(2 * Aeterna.Tool.Supervision.IdleTrim.Period + TimeSpan.FromSeconds(1));
            return Measure();
        }
        var first = Measure();
        for (int i = 0; i < 300; i++) Assert.Equal("committed", await supervisor.RelayOverSocketAsync());
        var warm = await MeasureQuietAsync();
        for (int i = 0; i < 50; i++) Assert.Equal("committed", await supervisor.RelayOverSocketAsync());
        var after50 = await MeasureQuietAsync();
        output.WriteLine($"idle: {first.Fds} fds, {first.RssKiB} KiB; after 300 relays: {warm.Fds} fds, {warm.RssKiB} KiB; after 350: {after50.Fds} fds, {after50.RssKiB} KiB");

        Assert.True(warm.Fds <= first.Fds + 2, $"fds went from {first.Fds} to {warm.Fds} over 300 relays"); // the runtime may open a pipe or two lazily
        Assert.Equal(warm.Fds, after50.Fds);
        // The garbage collector's heap still breathes by a few hundred KiB; a leak of 20 KiB per relay would not fit.
        Assert.True(after50.RssKiB - warm.RssKiB < 1024, $"RSS grew by {after50.RssKiB - warm.RssKiB} KiB over 50 relays after the warm-up");
    }
}
