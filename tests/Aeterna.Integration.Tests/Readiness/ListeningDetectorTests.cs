using Aeterna.Addresses;
using System.Diagnostics;
using System.Net.Sockets;
using Aeterna.Tool.Configuration;
using Aeterna.Tool.Readiness;
using Aeterna.Tool.Sockets;
using Aeterna.Tests.Support;

namespace Aeterna.Integration.Tests.Readiness;

/// <summary>
/// The /proc-based readiness fallback against real servers that wait in each of the ways the
/// detector knows: poll (socketserver), select (gunicorn's sync worker), blocking accept, epoll
/// (asyncio), and a process that holds the socket but does not wait on it.
/// </summary>
public sealed class ListeningDetectorTests
{
    private const string Prelude = "import socket, sys, os, time, select\ns = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\nprint(s.getsockname()[1], flush=True)\n";

    [Theory]
    [InlineData("poll", "p = select.poll(); p.register(s, select.POLLIN)\nwhile True: p.poll(500)")]
    [InlineData("select", "while True: select.select([s], [], [], 0.5)")]
    [InlineData("accept", "while True: s.accept()[0].close()")]
    [InlineData("epoll", "e = select.epoll(); e.register(s.fileno(), select.EPOLLIN)\nwhile True: e.poll(0.5)")]
    [InlineData("asyncio", "import asyncio\nasync def main():\n  srv = await asyncio.start_server(lambda r, w: None, sock=s)\n  await srv.serve_forever()\nasyncio.run(main())")]
    public async Task Detects_a_process_waiting_on_the_socket(string how, string wait)
    {
        await using var server = await PythonServer.StartAsync(Prelude + wait);
        bool seen = await Eventually(() => ListeningDetector.IsListening(server.Pid, [server.Listener]));
        Assert.True(seen, $"a server waiting with {how} was not detected");
    }

    [Fact]
    public async Task Does_not_detect_a_process_that_holds_the_socket_without_waiting()
    {
        await using var server = await PythonServer.StartAsync(Prelude + "time.sleep(60)");
        await Task.Delay(300);
        Assert.False(ListeningDetector.IsListening(server.Pid, [server.Listener]));
    }

    [Fact]
    public async Task Requires_every_listener()
    {
        await using var server = await PythonServer.StartAsync(Prelude + "t = socket.socket(); t.bind(('127.0.0.1', 0)); t.listen()\nprint(t.getsockname()[1], flush=True)\nwhile True: select.select([s], [], [], 0.5)", listeners: 2);
        Assert.True(await Eventually(() => ListeningDetector.IsListening(server.Pid, [server.Listener])));
        Assert.False(ListeningDetector.IsListening(server.Pid, [server.Listener, server.Second!]));
    }

    private static async Task<bool> Eventually(Func<bool> condition)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(5))
        {
            if (condition()) return true;
            await Task.Delay(50);
        }
        return false;
    }

    /// <summary>python3 -c script under setsid (its own process group), and its listening socket(s) by inode.</summary>
    private sealed class PythonServer : IAsyncDisposable
    {
        private readonly Process _process;

        private PythonServer(Process process, BoundListener listener, BoundListener? second) => (_process, Listener, Second) = (process, listener, second);

        public int Pid => _process.Id;

        public BoundListener Listener { get; }

        public BoundListener? Second { get; }

        public static async Task<PythonServer> StartAsync(string script, int listeners = 1)
        {
            var start = new ProcessStartInfo("setsid") { RedirectStandardOutput = true, UseShellExecute = false };
            foreach (var a in new[] { "python3", "-c", script }) start.ArgumentList.Add(a);
            var process = Process.Start(start)!;
            var ports = new List<int>();
            for (int i = 0; i < listeners; i++) ports.Add(int.Parse((await process.StandardOutput.ReadLineAsync())!));
            var found = ports.Select(port => Find(process.Id, port)).ToList();
            return new PythonServer(process, found[0], listeners > 1 ? found[1] : null);
        }

        /// <summary>Identifies the child's socket by its inode, the way the supervisor knows its own listeners.</summary>
        private static BoundListener Find(int pid, int port)
        {
            string hexPort = port.ToString("X4");
            var line = File.ReadAllLines("/proc/net/tcp").Skip(1).Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                .First(f => f[1].EndsWith(":" + hexPort, StringComparison.Ordinal) && f[3] == "0A");
            long inode = long.Parse(line[9]);
            var config = new ListenerConfig("http", $"tcp://127.0.0.1:{port}", ListenerKind.Tcp, "127.0.0.1", port, null, 4096);
            return new BoundListener(config, new Socket(SocketType.Stream, ProtocolType.Tcp), inode);
        }

        public async ValueTask DisposeAsync()
        {
            _process.Kill();
            await _process.WaitForExitAsync();
            Listener.Socket.Dispose();
            Second?.Socket.Dispose();
            _process.Dispose();
        }
    }
}
