using Aeterna.Interop;

namespace Aeterna.Tool.Supervision;

/// <summary>
/// Gives back, once the supervisor is quiet again, the memory its last burst of work left resident.
/// The supervisor is idle almost all its life, and its work comes in bursts (start-up, a relay, a
/// CLI command) that leave two kinds of pages behind, checked every <see cref="Period"/>:
/// <list type="bullet">
/// <item>Garbage: a few MiB of dead objects (the config read again, a report, the frames of a
/// hand-over). With nothing allocating afterwards no collection ever runs, so, if more than
/// <see cref="HeapThreshold"/> was allocated since the last trim, one aggressive collection
/// (blocking, compacting, decommitting the free space): well under a millisecond for a heap this
/// small.</item>
/// <item>Code: the pages of the executable and libraries that the burst ran, 6 to 7 MiB of the
/// native supervisor's 12 MiB (the kernel maps them 64 KiB around each fault). Once a whole period
/// passed with fewer than <see cref="QuietFaults"/> page faults, and at least
/// <see cref="PageOutFaults"/> faults brought pages in since the last time, every read-only file
/// mapping is given to madvise(MADV_PAGEOUT), which reclaims the pages only this process maps. It
/// never changes what the memory holds (a page still needed is faulted back in from the file, or
/// stays if it cannot be reclaimed), and the next burst pays for the pages it touches again: a few
/// milliseconds on the first relay or command after a quiet spell (docs/benchmarks.md).</item>
/// </list>
/// It runs on a timer thread, so a trim may land during a relay and hold the supervisor's part of
/// it, relaying frames, for about a millisecond.
/// </summary>
internal sealed class IdleTrim : IDisposable
{
    public static readonly TimeSpan Period = TimeSpan.FromSeconds(2);

    public const long HeapThreshold = 256 * 1024;

    /// <summary>Fewer faults than this in a period is quiet: an idle supervisor's timers fault in about 25 once after a page-out, then none.</summary>
    public const long QuietFaults = 16;

    /// <summary>Faults since the last page-out that make another worth it (a CLI command's is about 50).</summary>
    public const long PageOutFaults = 40;

    private readonly Timer _timer;
    private long _allocatedAtLastTrim;
    private long _faultsAtLastTick, _faultsAtLastPageOut;

    private IdleTrim()
    {
        _faultsAtLastTick = Libc.PageFaults();
        _timer = new Timer(_ => Tick(), null, Period, Period);
    }

    public static IdleTrim Start() => new();

    private void Tick()
    {
        long allocated = GC.GetTotalAllocatedBytes(precise: false);
        if (allocated - _allocatedAtLastTrim >= HeapThreshold)
        {
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
            _allocatedAtLastTrim = GC.GetTotalAllocatedBytes(precise: false);
        }
        long faults = Libc.PageFaults();
        if (faults - _faultsAtLastTick < QuietFaults && faults - _faultsAtLastPageOut >= PageOutFaults)
        {
            PageOutFileMappings();
            faults = Libc.PageFaults();
            _faultsAtLastPageOut = faults;
        }
        _faultsAtLastTick = faults;
    }

    /// <summary>MADV_PAGEOUT on every mapping of a file that is not writable (code and read-only data), as /proc/self/maps lists them.</summary>
    private static void PageOutFileMappings()
    {
        string[] maps;
        try { maps = File.ReadAllLines("/proc/self/maps"); }
        catch (IOException) { return; }
        foreach (string line in maps)
        {
            // "start-end perms offset dev inode path": a path that is a file, and perms without 'w'.
            var fields = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 6 || !fields[5].StartsWith('/') || fields[1].Contains('w')) continue;
            var range = fields[0].Split('-');
            nint start = (nint)Convert.ToInt64(range[0], 16), end = (nint)Convert.ToInt64(range[1], 16);
            // Linux before 5.4 does not know the advice: nothing to give back then.
            if (!Libc.Advise(start, end - start, Libc.MADV_PAGEOUT)) return;
        }
    }

    public void Dispose() => _timer.Dispose();
}
