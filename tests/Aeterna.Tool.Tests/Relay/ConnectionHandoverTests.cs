using Aeterna.Protocol;
using Aeterna.Tool.Configuration;
using Aeterna.Tool.Logging;
using Aeterna.Tool.Relay;
using Aeterna.Tool.Sessions;
using Aeterna.Tool.Supervision;
using Aeterna.Tool.Tests.Supervision;

namespace Aeterna.Tool.Tests.Relay;

/// <summary>
/// The supervisor's part in handing client connections over (docs/protocol.md, "Connections"),
/// with both generations played by the test on real session sockets: the capability is granted
/// only as asked and known, <c>connections</c> is set in FREEZE and IMPORT only when both have it,
/// RELEASE carries PREPARED's lists and comes only after COMMIT, a failure before COMMIT resumes
/// the exporter without RELEASE, and a hand-back runs the same exchange the other way.
/// </summary>
public sealed class ConnectionHandoverTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private readonly TestGenerations _generations = new();
    private readonly MemoryStream _logged = new();
    private readonly List<IDisposable> _owned = [];

    private EventLog Log => new(LogFormat.Text, Aeterna.Tool.Configuration.LogLevel.Debug, _logged);

    private AeternaConfig Config => _generations.Config;

    [Fact]
    public void Welcome_grants_what_was_asked_and_is_known_only()
    {
        var generation = _generations.Start();
        Assert.Equal(new[] { Capabilities.Connections }, Welcome.For(generation, Hello(["connections", "telepathy", "connections"])).Capabilities!);
        Assert.Empty(Welcome.For(generation, Hello(null)).Capabilities!);
    }

    [Fact]
    public async Task Both_granted_the_connections_cross_and_release_carries_the_importers_lists_after_commit()
    {
        var (old, oldApp) = Played(capable: true, active: true);
        var (next, nextApp) = Played(capable: true);
        var handover = new StateHandover(Log).HandOverAsync(old, next, Config, default);

        var import = await ReceiveAsync(nextApp, FrameType.Import);
        var freeze = await ReceiveAsync(oldApp, FrameType.Freeze);
        Assert.True(import.Read(ProtocolJson.Default.ImportMessage).Connections);
        var freezeMessage = freeze.Read(ProtocolJson.Default.FreezeMessage);
        Assert.True(freezeMessage.Connections);
        int id = freezeMessage.Transfer;

        await oldApp.SendAsync(FrameType.Frozen, new FrozenMessage { Transfer = id, Connections = 3, ConnectionBytes = 90 }, ProtocolJson.Default.FrozenMessage);
        Assert.Equal(0, oldApp.Socket.Available); // nothing for the exporter before the importer has decided
        await nextApp.SendAsync(FrameType.Prepared, new PreparedMessage(id, 1, 0, 0, new PreparedConnections([1, 2], [new RefusedConnection(3, "fd_limit", "no fd left")])), ProtocolJson.Default.PreparedMessage);

        using (await ReceiveAsync(nextApp, FrameType.Commit)) { }
        using (var release = await ReceiveAsync(oldApp, FrameType.Release))
        {
            var message = release.Read(ProtocolJson.Default.ReleaseMessage);
            Assert.Equal(id, message.Transfer);
            Assert.Equal(new[] { 1UL, 2UL }, message.Adopted);
            Assert.Equal("fd_limit", Assert.Single(message.Refused).Reason);
        }
        await nextApp.SendAsync(FrameType.Accepting, new AcceptingMessage(id, 5), ProtocolJson.Default.AcceptingMessage);

        var report = await handover.WaitAsync(Timeout);
        Assert.Equal(new ConnectionsReport(3, 2, 1, "fd_limit × 1"), report!.Connections);
        Assert.Contains("3 connection(s) by fd, 2 adopted, 1 refused (fd_limit × 1)", StateHandover.Describe(report));
    }

    [Fact]
    public async Task An_importer_without_the_capability_gets_no_connections_and_the_exporter_no_release()
    {
        var (old, oldApp) = Played(capable: true, active: true);
        var (next, nextApp) = Played(capable: false);
        var handover = new StateHandover(Log).HandOverAsync(old, next, Config, default);

        Assert.False((await ReceiveAsync(nextApp, FrameType.Import)).Read(ProtocolJson.Default.ImportMessage).Connections);
        var freeze = (await ReceiveAsync(oldApp, FrameType.Freeze)).Read(ProtocolJson.Default.FreezeMessage);
        Assert.False(freeze.Connections);
        await oldApp.SendAsync(FrameType.Frozen, new FrozenMessage { Transfer = freeze.Transfer }, ProtocolJson.Default.FrozenMessage);
        await nextApp.SendAsync(FrameType.Prepared, new PreparedMessage(freeze.Transfer, 1, 0, 0), ProtocolJson.Default.PreparedMessage);
        using (await ReceiveAsync(nextApp, FrameType.Commit)) { }
        await nextApp.SendAsync(FrameType.Accepting, new AcceptingMessage(freeze.Transfer, 5), ProtocolJson.Default.AcceptingMessage);

        var report = await handover.WaitAsync(Timeout);
        Assert.Null(report!.Connections);
        Assert.Equal(0, oldApp.Socket.Available); // RELEASE is sent before ACCEPTING is awaited: none came
    }

    [Fact]
    public async Task An_import_that_fails_before_commit_resumes_the_exporter_with_every_connection_and_sends_no_release()
    {
        var (old, oldApp) = Played(capable: true, active: true);
        var (next, nextApp) = Played(capable: true);
        var handover = new StateHandover(Log).HandOverAsync(old, next, Config, default);
        using (await ReceiveAsync(nextApp, FrameType.Import)) { }
        int id = (await ReceiveAsync(oldApp, FrameType.Freeze)).Read(ProtocolJson.Default.FreezeMessage).Transfer;
        await oldApp.SendAsync(FrameType.Frozen, new FrozenMessage { Transfer = id, Connections = 2 }, ProtocolJson.Default.FrozenMessage);
        await nextApp.SendAsync(FrameType.Failed, new FailedMessage(id, "Malformed", "a broken record"), ProtocolJson.Default.FailedMessage);

        using (await ReceiveAsync(nextApp, FrameType.Abort)) { }
        // The exporter's next frame is RESUME, not RELEASE: it serves every connection it paused.
        var resume = (await ReceiveAsync(oldApp, FrameType.Resume)).Read(ProtocolJson.Default.ResumeMessage);
        await oldApp.SendAsync(FrameType.Accepting, new AcceptingMessage(resume.Transfer, 5), ProtocolJson.Default.AcceptingMessage);
        var failed = await Assert.ThrowsAsync<RelayFailedException>(() => handover.WaitAsync(Timeout));
        Assert.Contains("a broken record", failed.Message);
        Assert.Contains("resumed", failed.Message);
    }

    [Fact]
    public async Task A_hand_back_runs_the_same_exchange_the_other_way()
    {
        var (old, oldApp) = Played(capable: true, active: true);
        var (next, nextApp) = Played(capable: true);
        old.Freeze(); // the relay's hand-over left it frozen, the rollback target
        var rollback = new StateHandover(Log).RollBackAsync(old, next, Config, default);

        var freeze = (await ReceiveAsync(nextApp, FrameType.Freeze)).Read(ProtocolJson.Default.FreezeMessage);
        Assert.True(freeze.Connections);
        Assert.True((await ReceiveAsync(oldApp, FrameType.Import)).Read(ProtocolJson.Default.ImportMessage).Connections);
        await nextApp.SendAsync(FrameType.Frozen, new FrozenMessage { Transfer = freeze.Transfer, Connections = 1 }, ProtocolJson.Default.FrozenMessage);
        await oldApp.SendAsync(FrameType.Prepared, new PreparedMessage(freeze.Transfer, 1, 0, 0, new PreparedConnections([9], [])), ProtocolJson.Default.PreparedMessage);
        using (await ReceiveAsync(oldApp, FrameType.Commit)) { }
        var released = (await ReceiveAsync(nextApp, FrameType.Release)).Read(ProtocolJson.Default.ReleaseMessage);
        Assert.Equal(new[] { 9UL }, released.Adopted);
        await oldApp.SendAsync(FrameType.Accepting, new AcceptingMessage(freeze.Transfer, 5), ProtocolJson.Default.AcceptingMessage);

        Assert.Contains("handed its state back", await rollback.WaitAsync(Timeout));
        Assert.Equal(GenerationState.Active, old.State);
    }

    private static HelloMessage Hello(string[]? capabilities) => new()
    {
        Versions = [1, 1], Token = "t", Pid = 1, Stateful = true, StateTypes = ["S"], Capabilities = capabilities,
    };

    /// <summary>A generation with a session whose other end the test plays.</summary>
    private (Generation Generation, FrameChannel App) Played(bool capable, bool active = false)
    {
        var generation = _generations.Start();
        if (active) generation.Activate();
        var (supervisorEnd, appEnd) = FrameChannel.CreatePair();
        var hello = Hello(capable ? [Capabilities.Connections] : null);
        var session = new GenerationSession(FrameChannel.FromHandle(supervisorEnd), hello, Welcome.For(generation, hello), generation, (_, _) => { });
        Assert.True(generation.AttachSession(session));
        _ = session.RunAsync();
        var app = FrameChannel.FromHandle(appEnd);
        _owned.Add(app);
        _owned.Add(session);
        return (generation, app);
    }

    private async Task<Frame> ReceiveAsync(FrameChannel app, FrameType expected)
    {
        var frame = await app.ReceiveAsync(expected).WaitAsync(Timeout);
        _owned.Add(frame);
        return frame;
    }

    public void Dispose()
    {
        foreach (var owned in _owned) owned.Dispose();
        _generations.Dispose();
    }
}
