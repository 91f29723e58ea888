using System.Diagnostics;
using Aeterna.Tests.Support;
using Xunit.Abstractions;

namespace Aeterna.Integration.Tests.Supervision;

/// <summary>
/// PID 1 duties inside a fresh PID namespace (unshare --pid --fork --mount-proc), each checked
/// for the supervisor and, side by side, for tini doing the same job: reap every orphan, forward
/// signals, exit with the child's code (128 + n for a signal).
/// </summary>
public sealed class Pid1Tests(ITestOutputHelper output)
{
    private const string Loop = "while :; do sleep 0.05; done";

    [Theory]
    [InlineData("aeterna")]
    [InlineData("tini")]
    public async Task Reaps_1000_orphaned_grandchildren(string init)
    {
        // Each "(sleep 0.3 &)" leaves an orphaned sleep behind; all 1,000 end up children of PID 1.
        // The service then idles in tail, so that every "sleep" in the namespace is an orphan.
        string service = "for i in $(seq 1000); do (sleep 0.3 &); done; echo spawned; exec tail -f /dev/null";
        await using var container = await Container.StartAsync(init, service, output);
        await container.WaitForOutputAsync("spawned", TimeSpan.FromSeconds(60));
        // The last sleeps end 0.3 s after they started, on a busy machine later: wait until no sleep
        // is running any more. Then a zombie is one that was never reaped.
        var clock = Stopwatch.StartNew();
        while (container.Running("sleep") > 0 && clock.Elapsed < TimeSpan.FromSeconds(20)) await Task.Delay(100);
        await Task.Delay(200); // the reaper's last waitpid
        int zombies = container.Zombies();
        output.WriteLine($"{init}: {zombies} zombie(s) in the namespace {clock.ElapsedMilliseconds} ms after the last spawn");
        Assert.Equal(0, zombies);
        if (init == "aeterna")
        {
            var status = await container.Supervisor!.StatusAsync();
            Assert.True(status.GetProperty("orphans_reaped").GetInt64() >= 1000);
        }
    }

    [Theory]
    [InlineData("aeterna", Posix.SIGTERM, "trap 'exit 7' TERM", 7)]
    [InlineData("tini", Posix.SIGTERM, "trap 'exit 7' TERM", 7)]
    [InlineData("aeterna", Posix.SIGINT, "trap 'exit 5' INT", 5)]
    [InlineData("tini", Posix.SIGINT, "trap 'exit 5' INT", 5)]
    [InlineData("aeterna", Posix.SIGQUIT, "trap 'exit 6' QUIT", 6)]
    [InlineData("tini", Posix.SIGQUIT, "trap 'exit 6' QUIT", 6)]
    [InlineData("aeterna", Posix.SIGTERM, "trap 'trap - TERM; kill -TERM $$' TERM", 128 + Posix.SIGTERM)]
    [InlineData("tini", Posix.SIGTERM, "trap 'trap - TERM; kill -TERM $$' TERM", 128 + Posix.SIGTERM)]
    public async Task Forwards_stop_signals_and_exits_with_the_childs_code(string init, int signal, string trap, int expected)
    {
        await using var container = await Container.StartAsync(init, $"{trap}; echo armed; {Loop}", output);
        await container.WaitForOutputAsync("armed");
        container.Signal(signal);
        Assert.Equal(expected, await container.WaitForExitAsync());
    }

    [Theory]
    [InlineData("aeterna", Posix.SIGUSR1, "USR1")]
    [InlineData("tini", Posix.SIGUSR1, "USR1")]
    [InlineData("aeterna", Posix.SIGUSR2, "USR2")]
    [InlineData("tini", Posix.SIGUSR2, "USR2")]
    public async Task Forwards_user_signals(string init, int signal, string name)
    {
        await using var container = await Container.StartAsync(init, $"trap 'echo got-{name}' {name}; echo armed; {Loop}", output);
        await container.WaitForOutputAsync("armed");
        container.Signal(signal);
        await container.WaitForOutputAsync($"got-{name}");
    }

    /// <summary>An init (aeterna or tini) as PID 1 of a new PID namespace, running one shell service.</summary>
    private sealed class Container : IAsyncDisposable
    {
        private readonly Process? _tini;
        private readonly TempDirectory? _dir;
        private readonly List<string> _lines = [];
        private readonly ITestOutputHelper _output;

        public SupervisorProcess? Supervisor { get; }

        private Container(ITestOutputHelper output, Process? tini, SupervisorProcess? supervisor, TempDirectory? dir) =>
            (_output, _tini, Supervisor, _dir) = (output, tini, supervisor, dir);

        public static async Task<Container> StartAsync(string init, string service, ITestOutputHelper output)
        {
            string[] unshare = ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"];
            if (init == "tini")
            {
                var start = new ProcessStartInfo(unshare[0]) { RedirectStandardOutput = true, RedirectStandardError = true };
                foreach (var a in unshare.Skip(1).Concat(["tini", "-s", "--", "sh", "-c", service])) start.ArgumentList.Add(a);
                var process = Process.Start(start)!;
                var container = new Container(output, process, null, null);
                process.OutputDataReceived += (_, e) => container.Collect(e.Data);
                process.ErrorDataReceived += (_, e) => container.Collect(e.Data);
                process.BeginOutputReadLine();
                process.BeginErrorReadLine();
                return container;
            }
            var dir = new TempDirectory();
            var config = new TestConfig { Command = ["sh", "-c", service], Readiness = "delay", Delay = "100ms", Drain = "5s" }.WriteTo(dir);
            var supervisor = SupervisorProcess.Start(config, output, prefix: unshare);
            await supervisor.WaitForActiveAsync(1);
            return new Container(output, null, supervisor, dir);
        }

        private void Collect(string? line)
        {
            if (line is null) return;
            lock (_lines) _lines.Add(line);
            try { _output.WriteLine(line); } catch (InvalidOperationException) { }
        }

        private IReadOnlyList<string> Lines => Supervisor?.Log ?? (IReadOnlyList<string>)_lines.ToArray();

        public async Task WaitForOutputAsync(string text, TimeSpan? timeout = null)
        {
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < (timeout ?? TimeSpan.FromSeconds(20)))
            {
                if (Lines.Any(l => l.Contains(text, StringComparison.Ordinal))) return;
                await Task.Delay(25);
            }
            throw new Xunit.Sdk.XunitException($"no '{text}' in the output:\n{string.Join('\n', Lines)}");
        }

        /// <summary>The PID 1 of the namespace, as the host sees it: the child of unshare.</summary>
        private int InitPid
        {
            get
            {
                int unshare = Supervisor?.Pid ?? _tini!.Id;
                return int.Parse(File.ReadAllText($"/proc/{unshare}/task/{unshare}/children").Split(' ', StringSplitOptions.RemoveEmptyEntries)[0]);
            }
        }

        public void Signal(int signal) => Assert.Equal(0, Posix.Kill(InitPid, signal));

        /// <summary>Processes named <paramref name="command"/> in the init's namespace that are still running (not zombies).</summary>
        public int Running(string command) => Count(stat => stat.Contains($"({command})", StringComparison.Ordinal) && !stat.Split(')')[^1].TrimStart().StartsWith('Z'));

        /// <summary>Zombie processes in the namespace of the init.</summary>
        public int Zombies() => Count(stat => stat.Split(')')[^1].TrimStart().StartsWith('Z'));

        private int Count(Func<string, bool> matches)
        {
            string ns = new FileInfo($"/proc/{InitPid}/ns/pid").LinkTarget!;
            int count = 0;
            foreach (var dir in Directory.EnumerateDirectories("/proc"))
            {
                if (!int.TryParse(Path.GetFileName(dir), out _)) continue;
                try
                {
                    if (new FileInfo($"{dir}/ns/pid").LinkTarget != ns) continue;
                    if (matches(File.ReadAllText($"{dir}/stat"))) count++;
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
            }
            return count;
        }

        public async Task<int> WaitForExitAsync()
        {
            if (Supervisor is not null) return await Supervisor.WaitForExitAsync(TimeSpan.FromSeconds(30));
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await _tini!.WaitForExitAsync(cts.Token);
            return _tini.ExitCode;
        }

        public async ValueTask DisposeAsync()
        {
            // unshare --fork blocks SIGTERM in itself while it waits: stop the init inside instead.
            if (Supervisor is { HasExited: false }) Posix.Kill(InitPid, Posix.SIGTERM);
            if (Supervisor is not null) await Supervisor.DisposeAsync();
            if (_tini is { HasExited: false })
            {
                _tini.Kill(entireProcessTree: true);
                await _tini.WaitForExitAsync();
            }
            _tini?.Dispose();
            _dir?.Dispose();
        }
    }
}
