using Aeterna.Connections;
using Aeterna.Protocol;
using Aeterna.Relay;
using Aeterna.State;
using Microsoft.Extensions.Logging.Abstractions;

namespace Aeterna.Runtime.Tests.Connections;

/// <summary>
/// One generation in this process: a real <see cref="RelayParticipant"/> with one handed-connection
/// endpoint ("counter"), on a real session socket whose other end (<see cref="Supervisor"/>) the
/// test plays, as the supervisor would.
/// </summary>
internal sealed class PlayedGeneration : IAsyncDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private readonly CancellationTokenSource _stop = new();
    private readonly SupervisorSession _session;
    private readonly Task _running;

    public PlayedGeneration(int number, RelayConnectionHandler handler)
    {
        Number = number;
        var (app, supervisor) = FrameChannel.CreatePair();
        var welcome = new WelcomeMessage { Version = 1, Generation = number, MaxStateSize = 1 << 20, TimeoutMs = 10_000, Capabilities = [Capabilities.Connections] };
        _session = SupervisorSession.Loopback(FrameChannel.FromHandle(app), welcome);
        Supervisor = FrameChannel.FromHandle(supervisor);
        Connections = new HandedConnections(new Dictionary<string, RelayConnectionHandler> { ["counter"] = handler }, NullLogger.Instance);
        var participant = new RelayParticipant(_session, new RelayStateSet(), new NoServingGate(), NullLogger.Instance, Connections);
        _running = participant.RunAsync(_stop.Token);
    }

    public int Number { get; }

    public HandedConnections Connections { get; }

    /// <summary>The supervisor's end of this generation's session.</summary>
    public FrameChannel Supervisor { get; }

    public Task SendAsync<T>(FrameType type, T message, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> json, Microsoft.Win32.SafeHandles.SafeFileHandle? fd = null) =>
        Supervisor.SendAsync(type, message, json, fd is null ? null : [fd]);

    /// <summary>The generation's next frame, which must be <paramref name="expected"/> (a FAILED says why).</summary>
    public async Task<T> ExpectAsync<T>(FrameType expected, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> json)
    {
        using var frame = await Supervisor.ReceiveAsync().WaitAsync(Timeout);
        if (frame.Type == FrameType.Failed)
            Assert.Fail($"generation {Number} failed: {frame.Read(ProtocolJson.Default.FailedMessage)}");
        Assert.Equal(expected, frame.Type);
        return frame.Read(json);
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        await _running;
        await Connections.StopAsync(TimeSpan.FromSeconds(1));
        _session.Dispose();
        Supervisor.Dispose();
    }
}
