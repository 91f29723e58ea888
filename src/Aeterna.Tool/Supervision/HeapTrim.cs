namespace Aeterna.Tool.Supervision;

/// <summary>
/// Gives the supervisor's garbage back to the kernel once it is quiet again. The supervisor is idle
/// almost all its life, and its work comes in bursts (start-up, a relay: the config read again, a
/// report, the frames of a hand-over) that leave a few MiB of dead objects behind; with nothing
/// allocating afterwards no collection ever runs, and those pages stay resident in every pod. So,
/// every <see cref="Period"/>, if more than <see cref="Threshold"/> was allocated since the last
/// trim, one aggressive collection (blocking, compacting, decommitting the free space): well under
/// a millisecond for a heap this small, on a timer thread (it may land during a relay and
/// hold the supervisor's part of it, relaying frames, for that long).
/// </summary>
internal sealed class HeapTrim : IDisposable
{
    public static readonly TimeSpan Period = TimeSpan.FromSeconds(2);

    public const long Threshold = 256 * 1024;

    private readonly Timer _timer;
    private long _allocatedAtLastTrim;

    private HeapTrim()
    {
        _timer = new Timer(_ => TrimIfAllocated(), null, Period, Period);
    }

    public static HeapTrim Start() => new();

    private void TrimIfAllocated()
    {
        long allocated = GC.GetTotalAllocatedBytes(precise: false);
        if (allocated - _allocatedAtLastTrim < Threshold) return;
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        _allocatedAtLastTrim = GC.GetTotalAllocatedBytes(precise: false);
    }

    public void Dispose() => _timer.Dispose();
}
