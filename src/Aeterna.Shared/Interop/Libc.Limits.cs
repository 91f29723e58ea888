using System.Runtime.InteropServices;

namespace Aeterna.Interop;

/// <summary>Resources: how many file descriptors this process may hold (RLIMIT_NOFILE), and the page faults it took.</summary>
internal static unsafe partial class Libc
{
    private const int RLIMIT_NOFILE = 7;

    [StructLayout(LayoutKind.Sequential)]
    private struct ResourceLimit
    {
        public ulong Soft;
        public ulong Hard;
    }

    private const int RUSAGE_SELF = 0;

    /// <summary>struct rusage: two timevals, then fourteen longs (ru_minflt and ru_majflt are the 5th and 6th).</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct ResourceUsage
    {
        public long UserSeconds, UserMicroseconds, SystemSeconds, SystemMicroseconds;
        public long MaxRss, SharedText, UnsharedData, UnsharedStack, MinorFaults, MajorFaults;
        public long Swaps, BlocksIn, BlocksOut, MessagesSent, MessagesReceived, Signals, VoluntarySwitches, InvoluntarySwitches;
    }

    [LibraryImport(Lib, EntryPoint = "getrusage", SetLastError = true)]
    private static partial int GetResourceUsage(int who, ResourceUsage* usage);

    /// <summary>The page faults this process has taken, minor and major (0 if getrusage fails).</summary>
    public static long PageFaults()
    {
        ResourceUsage usage;
        return GetResourceUsage(RUSAGE_SELF, &usage) == 0 ? usage.MinorFaults + usage.MajorFaults : 0;
    }

    /// <summary>
    /// Makes this process's fd table hold fd number <paramref name="highest"/> now, in one step:
    /// F_DUPFD to that number and close it again (the table never shrinks). Left to grow on its
    /// own, the table doubles as fds arrive, and in a multi-threaded process every doubling waits
    /// for an RCU grace period (expand_fdtable's synchronize_rcu): 6–16 ms each here, six of them
    /// on the way to 10,000 fds. False when it could not (over the limit, or no fd to copy).
    /// </summary>
    public static bool GrowFdTable(int highest)
    {
        int fd = Open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0) return false;
        try
        {
            int high = Fcntl(fd, F_DUPFD_CLOEXEC, highest);
            if (high < 0) return false;
            Close(high);
            return true;
        }
        finally { Close(fd); }
    }

    [LibraryImport(Lib, EntryPoint = "getrlimit", SetLastError = true)]
    private static partial int GetResourceLimit(int resource, ResourceLimit* limit);

    [LibraryImport(Lib, EntryPoint = "setrlimit", SetLastError = true)]
    private static partial int SetResourceLimit(int resource, ResourceLimit* limit);

    /// <summary>
    /// Raises the soft RLIMIT_NOFILE to the hard one (as the .NET runtime does at start, but a
    /// parent may have lowered it since) and returns the soft limit now in force.
    /// </summary>
    public static long RaiseFileLimit()
    {
        ResourceLimit limit;
        if (GetResourceLimit(RLIMIT_NOFILE, &limit) != 0)
            throw new IOException($"getrlimit(RLIMIT_NOFILE) failed: {Marshal.GetLastPInvokeErrorMessage()}");
        if (limit.Soft < limit.Hard)
        {
            var raised = limit with { Soft = limit.Hard };
            if (SetResourceLimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
        }
        return limit.Soft > long.MaxValue ? long.MaxValue : (long)limit.Soft;
    }
}
