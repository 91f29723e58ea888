using System.Diagnostics;
using System.Runtime.InteropServices;
using Aeterna.Kestrel;
using Aeterna.Protocol;
using Aeterna.State;
using Microsoft.Extensions.Logging;

namespace Aeterna.Relay;

/// <summary>
/// Every <c>checkpoint_interval_ms</c>, sends the supervisor a CHECKPOINT: the state serialized
/// into a sealed memfd, and the fds of its RelayMemory regions. The supervisor holds them (like
/// systemd's fd store), so a generation that crashes is restarted from its last checkpoint instead
/// of empty. Requests are held only while the state is serialized; regions are not copied (after
/// a crash they hold what the process last wrote to them).
/// </summary>
internal sealed class CheckpointWriter(SupervisorSession session, RelayStateSet states, RequestGate requests, Func<bool> frozen, ILogger logger)
{
    private readonly StateBuffer _buffer = new();

    public async Task RunAsync(CancellationToken stopping)
    {
        var interval = TimeSpan.FromMilliseconds(session.Welcome.CheckpointIntervalMs);
        if (interval <= TimeSpan.Zero || states.IsEmpty) return;
        using var timer = new PeriodicTimer(interval);
        try
        {
            while (await timer.WaitForNextTickAsync(stopping).ConfigureAwait(false))
            {
                if (frozen() || requests.IsFrozen) continue; // the state belongs to the next generation now
                await TakeAsync(stopping).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) { }
        catch (ProtocolException e)
        {
            logger.LogDebug("aeterna: checkpoints stopped: {Reason}", e.Message);
        }
    }

    private async Task TakeAsync(CancellationToken stopping)
    {
        var regions = new StateExport.RegionCollector();
        List<StateSection> sections;
        var started = Stopwatch.GetTimestamp();
        await requests.PauseAsync(stopping).ConfigureAwait(false);
        long taken = MonotonicClock.Nanoseconds;
        try
        {
            sections = StateExport.Serialize(states, _buffer, regions);
        }
        catch (RelayFormatException e)
        {
            logger.LogError("aeterna: the state could not be checkpointed: {Error}", e.Message);
            return;
        }
        finally
        {
            requests.Unpause();
        }
        double pause = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        if (regions.Regions.Count >= FrameHeader.MaxFds)
        {
            logger.LogWarning("aeterna: {Count} memory regions are more than a checkpoint can carry ({Max}); no checkpoint taken", regions.Regions.Count, FrameHeader.MaxFds - 1);
            return;
        }
        using var stateFile = StateExport.SealedCopy(_buffer);
        var fds = new List<SafeHandle> { stateFile };
        fds.AddRange(regions.Regions.Select(r => r.File));
        await session.SendAsync(FrameType.Checkpoint, new CheckpointMessage
        {
            Sections = [.. sections],
            Regions = [.. regions.Regions.Select(r => new StateRegion(r.Name, r.ByteLength))],
            StateBytes = _buffer.Written,
            TakenNs = taken,
            PauseMs = pause,
        }, ProtocolJson.Default.CheckpointMessage, fds, stopping).ConfigureAwait(false);
    }
}
