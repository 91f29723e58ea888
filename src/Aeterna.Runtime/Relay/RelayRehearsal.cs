using System.Net.Sockets;
using Aeterna.Connections;
using Aeterna.Interop;
using Aeterna.Protocol;
using Aeterna.Serialization;
using Aeterna.State;
using Microsoft.Extensions.Logging.Abstractions;

namespace Aeterna.Relay;

/// <summary>
/// A dress rehearsal of the hand-over, run while the generation warms up: two
/// <see cref="RelayParticipant"/>s on scratch state (fresh instances of the app's state types, never
/// the live ones) and scratch gates, driven through FREEZE, IMPORT, COMMIT and RESUME by this class
/// playing the supervisor over private socket pairs, once per mechanism, with one small memory
/// region passed by fd beside the app's types, and one handed connection (a socket pair, a byte
/// of read-ahead, a probe endpoint: never the app's handlers) adopted, committed and released. A relay then finds every
/// method of its hand-over path already compiled, in the old generation and in the new one. Without
/// it, just-in-time compilation of that path (some 150 methods, generic async machinery included)
/// happens inside the window where new connections wait: about 10 ms on a 2-core machine
/// (docs/benchmarks.md).
/// </summary>
internal static class RelayRehearsal
{
    public static async Task RunAsync(RelayStateSet states, IServingGate gate, WelcomeMessage welcome, CancellationToken cancel)
    {
        foreach (string mechanism in new[] { "pipe", "shm" })
            await HandOverAsync(states, gate, welcome, mechanism, cancel).ConfigureAwait(false);
    }

    private static async Task HandOverAsync(RelayStateSet states, IServingGate gate, WelcomeMessage welcome, string mechanism, CancellationToken cancel)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        stop.CancelAfter(TimeSpan.FromMilliseconds(Math.Max(1, welcome.TimeoutMs)));
        var (oldSide, oldSupervisorSide) = FrameChannel.CreatePair();
        var (newSide, newSupervisorSide) = FrameChannel.CreatePair();
        using var oldSession = SupervisorSession.Loopback(FrameChannel.FromHandle(oldSide, welcome.MaxFrameSize), welcome);
        using var newSession = SupervisorSession.Loopback(FrameChannel.FromHandle(newSide, welcome.MaxFrameSize), welcome);
        using var toOld = FrameChannel.FromHandle(oldSupervisorSide, welcome.MaxFrameSize);
        using var toNew = FrameChannel.FromHandle(newSupervisorSide, welcome.MaxFrameSize);

        var oldGate = gate.CreateScratch();
        oldGate.StartAccepting();
        using var exported = new RegionProbe { Memory = RelayMemory<float>.Allocate(1, "aeterna:rehearsal") };
        using var imported = new RegionProbe();
        var oldConnections = ProbeConnections();
        var newConnections = ProbeConnections();
        var (serverEnd, clientEnd) = Libc.StreamSocketPair();
        using var client = new Socket(new SafeSocketHandle(clientEnd, ownsHandle: true));
        oldConnections.Accepted(ConnectionProbe.Endpoint, new Socket(new SafeSocketHandle(serverEnd, ownsHandle: true)));
        await client.SendAsync(new byte[] { 1 }, SocketFlags.None, stop.Token).ConfigureAwait(false);
        var old = new RelayParticipant(oldSession, Scratch(states, exported), oldGate, NullLogger.Instance, oldConnections);
        var next = new RelayParticipant(newSession, Scratch(states, imported), gate.CreateScratch(), NullLogger.Instance, newConnections);
        var running = Task.WhenAll(old.RunAsync(stop.Token), next.RunAsync(stop.Token));
        try
        {
            var (exporterEnd, importerEnd) = FrameChannel.CreatePair();
            using (exporterEnd)
            using (importerEnd)
            {
                await toNew.SendAsync(FrameType.Import, new ImportMessage(0, 0, Connections: true), ProtocolJson.Default.ImportMessage, [importerEnd], stop.Token).ConfigureAwait(false);
                await toOld.SendAsync(FrameType.Freeze, new FreezeMessage(0, mechanism, welcome.TimeoutMs, Connections: true), ProtocolJson.Default.FreezeMessage, [exporterEnd], stop.Token).ConfigureAwait(false);
            }
            using (await ExpectAsync(toOld, FrameType.Frozen, stop.Token).ConfigureAwait(false)) { }
            PreparedConnections decided;
            using (var prepared = await ExpectAsync(toNew, FrameType.Prepared, stop.Token).ConfigureAwait(false))
                decided = prepared.Read(ProtocolJson.Default.PreparedMessage).Connections ?? new PreparedConnections([], []);
            if (decided.Adopted.Length != 1)
                throw new ProtocolException(ProtocolError.Malformed, $"the rehearsal's connection was not adopted: {string.Join(", ", decided.Refused.Select(r => $"{r.Reason} ({r.Detail})"))}");
            await toNew.SendAsync(FrameType.Commit, new CommitMessage(0), ProtocolJson.Default.CommitMessage, cancel: stop.Token).ConfigureAwait(false);
            await toOld.SendAsync(FrameType.Release, new ReleaseMessage(0, decided.Adopted, decided.Refused), ProtocolJson.Default.ReleaseMessage, cancel: stop.Token).ConfigureAwait(false);
            using (await ExpectAsync(toNew, FrameType.Accepting, stop.Token).ConfigureAwait(false)) { }
            await toOld.SendAsync(FrameType.Resume, new ResumeMessage(0, "rehearsal"), ProtocolJson.Default.ResumeMessage, cancel: stop.Token).ConfigureAwait(false);
            using (await ExpectAsync(toOld, FrameType.Accepting, stop.Token).ConfigureAwait(false)) { }
        }
        finally
        {
            stop.Cancel();
            try { await running.ConfigureAwait(false); }
            catch (OperationCanceledException) { } // a participant cut short by the stop; the first failure is already on its way
            await oldConnections.StopAsync(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
            await newConnections.StopAsync(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
        }
    }

    /// <summary>The participant's next frame, which must be <paramref name="expected"/>; its FAILED becomes an exception with its reason.</summary>
    private static async Task<Frame> ExpectAsync(FrameChannel participant, FrameType expected, CancellationToken cancel)
    {
        var frame = await participant.ReceiveAsync(cancel).ConfigureAwait(false);
        if (frame.Type == FrameType.Failed)
        {
            var failed = frame.Read(ProtocolJson.Default.FailedMessage);
            frame.Dispose();
            throw new RelayFormatException($"{failed.Code}: {failed.Error}");
        }
        if (frame.Type != expected)
        {
            frame.Dispose();
            throw new ProtocolException(ProtocolError.Malformed, $"the rehearsal expected {expected}, got {frame.Type}");
        }
        return frame;
    }

    private static HandedConnections ProbeConnections() =>
        new(new Dictionary<string, RelayConnectionHandler> { [ConnectionProbe.Endpoint] = new ConnectionProbe() }, NullLogger.Instance);

    /// <summary>An endpoint that reads nothing: its connection pauses with its byte unread, which becomes the read-ahead.</summary>
    private sealed class ConnectionProbe : RelayConnectionHandler
    {
        public const string Endpoint = "aeterna:rehearsal";

        public override async Task ServeAsync(RelayConnection connection)
        {
            connection.Session = new byte[] { 1 };
            await Task.Delay(Timeout.Infinite, connection.PauseRequested).ConfigureAwait(false);
        }
    }

    private static RelayStateSet Scratch(RelayStateSet states, RegionProbe probe)
    {
        var set = new RelayStateSet();
        foreach (var entry in states.Entries) set.Add(entry.Name, entry.CreateScratch(), entry.CreateScratch);
        set.Add("aeterna:rehearsal", probe, () => new RegionProbe());
        return set;
    }

    /// <summary>State of one small <see cref="RelayMemory{T}"/>: the rehearsal passes a region by fd even when the app's scratch state holds none.</summary>
    private sealed class RegionProbe : IRelayState, IDisposable
    {
        public RelayMemory<float>? Memory { get; set; }

        public void WriteState(ref RelayWriter writer) => writer.WriteMemory(Memory);

        public void ReadState(ref RelayReader reader) => Memory = reader.ReadMemory<float>();

        public void Dispose() => Memory?.Dispose();
    }
}
