using System.Net.Sockets;
using System.Text;
using Aeterna.Tests.Support;
using Xunit.Abstractions;

namespace Aeterna.Integration.Tests.Supervision;

/// <summary>The supervisor under a service manager of its own (systemd Type=notify): it speaks sd_notify too, to an abstract socket here.</summary>
public sealed class ManagerNotifyTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Tells_its_own_manager_ready_reloading_and_stopping()
    {
        string name = "aeterna-test-" + Guid.NewGuid().ToString("N");
        using var manager = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        manager.Bind(new UnixDomainSocketEndPoint("\0" + name));
        using var dir = new TempDirectory();
        var config = new TestConfig { Command = ["sleep", "600"], Readiness = "delay", Delay = "50ms" }.WriteTo(dir);
        await using var supervisor = SupervisorProcess.Start(config, output, environment: new Dictionary<string, string> { ["NOTIFY_SOCKET"] = "@" + name });

        Assert.StartsWith("READY=1", await ReceiveAsync(manager));
        Assert.Equal(0, (await supervisor.RelayAsync()).Code);
        Assert.StartsWith("RELOADING=1", await ReceiveAsync(manager));
        var ready = await ReceiveAsync(manager);
        Assert.StartsWith("READY=1", ready);
        Assert.Contains("generation 2 active", ready);
        supervisor.Signal(Posix.SIGTERM);
        Assert.StartsWith("STOPPING=1", await ReceiveAsync(manager));
    }

    private static async Task<string> ReceiveAsync(Socket socket)
    {
        var buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        int n = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
        return Encoding.UTF8.GetString(buffer, 0, n);
    }
}
