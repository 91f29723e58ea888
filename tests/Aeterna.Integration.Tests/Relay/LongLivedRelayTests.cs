using System.Net.WebSockets;
using System.Text;
using Aeterna.Tests.Support;
using Xunit.Abstractions;

namespace Aeterna.Integration.Tests.Relay;

/// <summary>
/// A WebSocket open across a relay (tests/apps/StatefulApp, /ws): it does not hold the freeze, its
/// handler keeps answering on the old generation, and before the drain timeout the old generation
/// ends it with close 1012 (Service Restart); the client's reconnect reaches the new generation.
/// </summary>
public sealed class LongLivedRelayTests(ITestOutputHelper output)
{
    [Fact]
    public async Task An_open_WebSocket_does_not_hold_a_relay_and_is_closed_with_1012_before_the_drain_timeout()
    {
        using var dir = new TempDirectory();
        int port = FreePort.Get();
        var config = new TestConfig { Command = ["dotnet", TestApps.StatefulApp], Port = port, Readiness = "auto", ReadyTimeout = "20s", Drain = "3s" }.WriteTo(dir);
        await using var supervisor = SupervisorProcess.Start(config, output);
        await supervisor.WaitForActiveAsync(1);
        var address = new Uri($"ws://127.0.0.1:{port}/ws");
        using var socket = new ClientWebSocket();
        await socket.ConnectAsync(address, default).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("before", await EchoAsync(socket, "before"));

        var relay = supervisor.RelayAsync("--soak", "0");
        await supervisor.WaitForLogAsync("SIGTERM: draining");
        // Generation 1 drains; its WebSocket handler still answers ...
        Assert.Equal("while draining", await EchoAsync(socket, "while draining"));
        // ... until the drain timeout is near: then it ends the WebSocket properly.
        var received = await socket.ReceiveAsync(new byte[64], default).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(WebSocketMessageType.Close, received.MessageType);
        Assert.Equal(1012, (int)received.CloseStatus!);
        // Answering the close completes the handshake, unless the generation's grace for it ran
        // out first (a loaded machine delays this client): then it reset the connection, which
        // is its drain's last step and no longer the client's business.
        try { await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, default).WaitAsync(TimeSpan.FromSeconds(10)); }
        catch (WebSocketException) when (supervisor.Log.Any(l => l.Contains("aborted after the grace", StringComparison.Ordinal))) { }
        await supervisor.WaitForLogAsync("long-lived connections ended");

        var (code, report) = await relay;
        Assert.True(code == 0, $"relay exited {code}: {report}");
        using var again = new ClientWebSocket();
        await again.ConnectAsync(address, default).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("after", await EchoAsync(again, "after"));
    }

    private static async Task<string> EchoAsync(ClientWebSocket socket, string text)
    {
        await socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, endOfMessage: true, default).WaitAsync(TimeSpan.FromSeconds(10));
        var buffer = new byte[256];
        var received = await socket.ReceiveAsync(buffer, default).WaitAsync(TimeSpan.FromSeconds(10));
        return Encoding.UTF8.GetString(buffer, 0, received.Count);
    }
}
