using System.Diagnostics;
using Aeterna.Connections;
using Aeterna.Protocol;
using Aeterna.State;
using Microsoft.Extensions.Logging;

namespace Aeterna.Relay;

/// <summary>
/// This generation's part in a relay's state hand-over, driven by the supervisor's frames
/// (docs/protocol.md, "The hand-over"):
/// <list type="bullet">
/// <item>FREEZE (as the old generation): stop accepting, let requests in flight finish, export the
/// state to the transfer socket, answer FROZEN, make the handed-over memory read-only;</item>
/// <item>IMPORT (as the new generation, or the old one taking its state back on rollback): read
/// and apply the state, answer PREPARED;</item>
/// <item>COMMIT: serve on the imported state, answer ACCEPTING;</item>
/// <item>RESUME (the frozen old generation, when the relay failed): serve again on the state it
/// froze with, answer ACCEPTING;</item>
/// <item>ABORT: the transfer is off; nothing read is used.</item>
/// <item>RELEASE (the frozen old generation, after the new one's COMMIT): close the connections
/// the new one adopted, end the ones it refused.</item>
/// </list>
/// The connections of handed-connection endpoints follow the state: paused at FREEZE (and sent
/// when FREEZE says <c>connections</c>), adopted at IMPORT, served at COMMIT or RESUME.
/// Any failure is answered with FAILED and the supervisor decides what happens next.
/// </summary>
internal sealed class RelayParticipant(SupervisorSession session, RelayStateSet states, IServingGate gate, ILogger logger, HandedConnections? handed = null)
{
    /// <summary>File descriptors an importer keeps for its own work when it takes connections (docs/protocol.md, "The fd limit").</summary>
    private const int FdReserve = 64;

    /// <summary>How many fds a generation with handed-connection endpoints makes room for when it starts, before any hand-over.</summary>
    private const int RoomAtStart = 8192;

    private readonly HandedConnections _connections = handed ?? HandedConnections.None;
    private readonly StateBuffer _buffer = new();
    private IReadOnlyList<MemoryRegion> _handedOver = [];
    private IReadOnlyList<MemoryRegion> _imported = [];
    private bool _frozen;

    /// <summary>Whether this generation has frozen and not resumed (its state belongs to the next one).</summary>
    public bool IsFrozen => _frozen;

    /// <summary>Handles the supervisor's frames until the session ends.</summary>
    public async Task RunAsync(CancellationToken stopping)
    {
        // Room in the fd table for the connections a hand-over may bring, now rather than during
        // one: each growth of the table waits for an RCU grace period (milliseconds, and hundreds
        // of them on a loaded machine). Room for a few thousand costs the kernel 128 KiB at most;
        // STATE_BEGIN grows it further if more come.
        if (_connections.HasEndpoints && session.Welcome.Capabilities?.Contains(Capabilities.Connections) == true)
            _ = Task.Run(() => FileDescriptors.MakeRoom(RoomAtStart, FdReserve), CancellationToken.None);
        while (!stopping.IsCancellationRequested)
        {
            Frame frame;
            try
            {
                frame = await session.ReceiveAsync(stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException) { return; }
            catch (ProtocolException e)
            {
                logger.LogWarning("aeterna: the session with the supervisor ended: {Reason}", e.Message);
                return;
            }
            using (frame)
            {
                switch (frame.Type)
                {
                    case FrameType.Freeze: await FreezeAsync(frame, stopping).ConfigureAwait(false); break;
                    case FrameType.Import: await ImportAsync(frame, stopping).ConfigureAwait(false); break;
                    case FrameType.Commit: await ServeAsync(frame.Read(ProtocolJson.Default.CommitMessage).Transfer, "commit", stopping).ConfigureAwait(false); break;
                    case FrameType.Resume: await ServeAsync(frame.Read(ProtocolJson.Default.ResumeMessage).Transfer, "resume", stopping).ConfigureAwait(false); break;
                    case FrameType.Release: await ReleaseAsync(frame.Read(ProtocolJson.Default.ReleaseMessage)).ConfigureAwait(false); break;
                    case FrameType.Abort:
                        var abort = frame.Read(ProtocolJson.Default.AbortMessage);
                        _connections.DiscardStaged();
                        logger.LogWarning("aeterna: transfer {Transfer} aborted by the supervisor: {Reason}", abort.Transfer, abort.Reason);
                        break;
                    default:
                        logger.LogWarning("aeterna: ignoring an unexpected {Type} frame from the supervisor", frame.Type);
                        break;
                }
            }
        }
    }

    private async Task FreezeAsync(Frame frame, CancellationToken stopping)
    {
        var freeze = frame.Read(ProtocolJson.Default.FreezeMessage);
        using var transfer = FrameChannel.FromHandle(frame.TakeFd(0), session.Welcome.MaxFrameSize);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        deadline.CancelAfter(TimeSpan.FromMilliseconds(Math.Max(1, freeze.DeadlineMs)));
        long stopped = gate.StopAccepting();
        _frozen = true;
        var started = Stopwatch.GetTimestamp();
        try
        {
            try
            {
                await gate.QuiesceAsync(deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"requests were still in flight after {freeze.DeadlineMs:0} ms (state_handoff.timeout)");
            }
            // Handed connections reach a boundary within the same deadline, and are held from now on
            // whether they are sent or not: none is served from the state being handed over.
            var paused = await _connections.PauseAllAsync(deadline.Token).ConfigureAwait(false);
            double quiesce = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            var result = await StateExport.ExportAsync(transfer, states, _buffer, freeze.Mechanism, session.Welcome.MaxFrameSize, deadline.Token,
                freeze.Connections ? paused : null).ConfigureAwait(false);
            _handedOver = result.Regions;
            await session.SendAsync(FrameType.Frozen, new FrozenMessage
            {
                Transfer = freeze.Transfer,
                StoppedAcceptingNs = stopped,
                QuiesceMs = quiesce,
                ExportMs = result.Milliseconds,
                Mechanism = result.Mechanism,
                StateBytes = result.StateBytes,
                Regions = result.Regions.Count,
                RegionBytes = result.RegionBytes,
                Connections = result.Connections,
                ConnectionBytes = result.ConnectionBytes,
            }, ProtocolJson.Default.FrozenMessage, stopping).ConfigureAwait(false);
            // The next generation owns these pages now. Protected after FROZEN, not before: mprotect
            // costs about 30 ms per GiB here, which would otherwise be spent while new connections
            // wait. The next frame (RESUME included) is read only after this.
            foreach (var region in result.Regions) region.SetReadOnly(true);
            logger.LogInformation("aeterna: frozen; exported {Bytes} bytes ({Mechanism}), {Regions} memory region(s) and {Connections} connection(s) in {Ms:0.0} ms",
                result.StateBytes, result.Mechanism, result.Regions.Count, result.Connections, result.Milliseconds);
        }
        catch (Exception e) when (e is ProtocolException or RelayFormatException or IOException or TimeoutException or OperationCanceledException)
        {
            // Stay frozen: the supervisor answers a failed export with RESUME.
            logger.LogError("aeterna: export for transfer {Transfer} failed: {Error}", freeze.Transfer, e.Message);
            await FailAsync(freeze.Transfer, e, stopping).ConfigureAwait(false);
        }
    }

    private async Task ImportAsync(Frame frame, CancellationToken stopping)
    {
        var import = frame.Read(ProtocolJson.Default.ImportMessage);
        using var transfer = FrameChannel.FromHandle(frame.TakeFd(0), session.Welcome.MaxFrameSize);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        deadline.CancelAfter(TimeSpan.FromMilliseconds(Math.Max(1, session.Welcome.TimeoutMs)));
        ConnectionStaging? staging = null;
        try
        {
            // Each connection costs an fd: receive no more than this process may still open; the
            // ones dropped at the limit are refused (their exporter still holds them).
            if (import.Connections)
            {
                transfer.FdBudget = FileDescriptors.Available(FdReserve);
                EventPolls.Prepare();
                staging = _connections.BeginStaging();
            }
            // A frozen generation taking its state back must be able to resume if that fails:
            // it validates everything before touching its live state.
            var result = await StateImport.ImportAsync(transfer, states, session.Welcome.MaxStateSize, validateFirst: _frozen, deadline.Token, staging).ConfigureAwait(false);
            foreach (string skipped in result.SkippedSections)
                logger.LogWarning("aeterna: the previous generation had state '{Section}', which this version does not register; it was dropped", skipped);
            _imported = result.Regions;
            var decided = staging?.Finish();
            await session.SendAsync(FrameType.Prepared, new PreparedMessage(import.Transfer, result.Milliseconds, result.StateBytes, result.Regions.Count, decided),
                ProtocolJson.Default.PreparedMessage, stopping).ConfigureAwait(false);
            logger.LogInformation("aeterna: imported {Bytes} bytes ({Mechanism}), {Regions} memory region(s) and {Adopted} connection(s) ({Refused} refused) from generation {From} in {Ms:0.0} ms; connections staged in {Staged:0.0} ms",
                result.StateBytes, result.Mechanism, result.Regions.Count, decided?.Adopted.Length ?? 0, decided?.Refused.Length ?? 0, import.FromGeneration, result.Milliseconds, staging?.Milliseconds ?? 0);
            foreach (var refused in decided?.Refused ?? [])
                logger.LogWarning("aeterna: refused handed connection {Id} ({Reason}): {Detail}", refused.Id, refused.Reason, refused.Detail);
        }
        catch (Exception e) when (e is ProtocolException or RelayFormatException or IOException or OperationCanceledException)
        {
            logger.LogError("aeterna: import for transfer {Transfer} failed: {Error}", import.Transfer, e.Message);
            await FailAsync(import.Transfer, e, stopping).ConfigureAwait(false);
        }
        finally
        {
            // An import that did not finish: the exporter still holds every connection, so closing our copies loses none.
            staging?.Discard();
        }
    }

    /// <summary>COMMIT or RESUME: serve from local state again and take connections.</summary>
    private async Task ServeAsync(int transfer, string why, CancellationToken stopping)
    {
        if (why == "resume")
            foreach (var region in _handedOver) region.SetReadOnly(false);
        _handedOver = [];
        _frozen = false;
        var serving = Stopwatch.GetTimestamp();
        int connections = _connections.ServeAll();
        double served = Stopwatch.GetElapsedTime(serving).TotalMilliseconds;
        long accepting = gate.StartAccepting();
        await session.SendAsync(FrameType.Accepting, new AcceptingMessage(transfer, accepting), ProtocolJson.Default.AcceptingMessage, stopping).ConfigureAwait(false);
        logger.LogInformation("aeterna: serving ({Why} of transfer {Transfer}); {Connections} connection(s) set serving in {Served:0.0} ms", why, transfer, connections, served);
        if (_imported.Count > 0) _ = PrefaultAsync(Interlocked.Exchange(ref _imported, []), stopping);
    }

    /// <summary>
    /// Maps every page of the memory just adopted, in the background after accepting started, so
    /// that first reads don't fault page by page; tells the supervisor how long it took (STATUS).
    /// </summary>
    private async Task PrefaultAsync(IReadOnlyList<MemoryRegion> regions, CancellationToken stopping)
    {
        await Task.Yield();
        var started = Stopwatch.GetTimestamp();
        bool all = regions.All(r => !r.IsDisposed && r.Prefault());
        if (!all) return; // MADV_POPULATE_READ needs Linux 5.14; pages then fault in as they are read
        double ms = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        long bytes = regions.Sum(r => r.ByteLength);
        try
        {
            await session.SendAsync(FrameType.Status, new StatusMessage($"memory regions readable: {bytes} bytes mapped in {ms:0.###} ms"), ProtocolJson.Default.StatusMessage, stopping).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ProtocolException or OperationCanceledException or ObjectDisposedException) { } // the session ended first (the rehearsal's does)
    }

    /// <summary>RELEASE: the next generation committed; what it adopted is its own now.</summary>
    private async Task ReleaseAsync(ReleaseMessage release)
    {
        int adopted = release.Adopted?.Length ?? 0, refused = release.Refused?.Length ?? 0;
        logger.LogInformation("aeterna: transfer {Transfer} released: {Adopted} connection(s) adopted by the next generation, {Refused} refused (ended here)", release.Transfer, adopted, refused);
        // Ending refused connections writes to clients: in the background, not in the session's loop.
        await Task.Yield();
        _ = _connections.ReleaseAsync(release);
    }

    private Task FailAsync(int transfer, Exception e, CancellationToken stopping)
    {
        string code = e switch
        {
            ProtocolException p => p.Error.ToString(),
            RelayFormatException => "StateFormat",
            TimeoutException or OperationCanceledException => "Timeout",
            _ => "IO",
        };
        string message = e is OperationCanceledException ? "the transfer took longer than state_handoff.timeout" : e.Message;
        return session.SendAsync(FrameType.Failed, new FailedMessage(transfer, code, message), ProtocolJson.Default.FailedMessage, stopping);
    }
}
