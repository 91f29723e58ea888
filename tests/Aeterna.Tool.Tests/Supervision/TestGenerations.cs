using System.Net.Sockets;
using System.Text;
using Aeterna.Tests.Support;
using Aeterna.Tool.Configuration;
using Aeterna.Tool.Notify;
using Aeterna.Tool.Processes;
using Aeterna.Tool.Supervision;

namespace Aeterna.Tool.Tests.Supervision;

/// <summary>
/// Generations without a process, for tests of what the supervisor does with them: each one's
/// process is a pid above the kernel's largest pid_max (2^22), so no signal sent to it or to its
/// group can reach a real process, and an exit the test completes. Its sd_notify socket is real.
/// </summary>
internal sealed class TestGenerations : IDisposable
{
    private const int NoSuchPid = 1 << 23;

    private readonly TempDirectory _dir = new();
    private readonly Dictionary<Generation, TaskCompletionSource<ExitStatus>> _exits = [];
    private int _lastNumber;

    /// <summary>The config every generation runs (a real aeterna.yaml, read by the real loader).</summary>
    public AeternaConfig Config { get; }

    public TestGenerations(TestConfig? config = null)
    {
        string path = (config ?? new TestConfig { Command = ["/bin/true"] }).WriteTo(_dir);
        var loaded = ConfigLoader.Load(path);
        Assert.True(loaded.Success, string.Join('\n', loaded.Errors));
        Config = loaded.Config!;
    }

    public Generation Start(AeternaConfig? config = null, Generation? stateSource = null)
    {
        int number = Interlocked.Increment(ref _lastNumber);
        var exit = new TaskCompletionSource<ExitStatus>(TaskCreationOptions.RunContinuationsAsynchronously);
        var notify = NotifySocket.Bind(_dir.File($"notify-{number}.sock"));
        var generation = new Generation(number, config ?? Config, $"token-{number}", new SpawnedProcess(NoSuchPid + number, exit.Task), notify, stateSource);
        lock (_exits) _exits[generation] = exit;
        return generation;
    }

    /// <summary>The generation's process ends with <paramref name="status"/>.</summary>
    public void Exit(Generation generation, ExitStatus status)
    {
        lock (_exits) _exits[generation].TrySetResult(status);
    }

    /// <summary>A datagram to the generation's NOTIFY_SOCKET, as sd_notify(3) sends it.</summary>
    public static void Notify(Generation generation, string message)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        socket.SendTo(Encoding.UTF8.GetBytes(message), new UnixDomainSocketEndPoint(generation.NotifySocketPath));
    }

    public void Dispose()
    {
        lock (_exits)
            foreach (var (generation, exit) in _exits)
            {
                exit.TrySetResult(new ExitStatus(0, 9));
                generation.Dispose();
            }
        _dir.Dispose();
    }
}
