using Aeterna.Interop;

namespace Aeterna.Connections;

/// <summary>How many more file descriptors this process may open (docs/protocol.md, "The fd limit").</summary>
internal static class FileDescriptors
{
    /// <summary>RLIMIT_NOFILE's soft limit (raised to the hard one) minus those open now minus <paramref name="reserve"/>; at least 0.</summary>
    public static int Available(int reserve)
    {
        long limit = Libc.RaiseFileLimit();
        return (int)Math.Clamp(limit - Open() - reserve, 0, int.MaxValue);
    }

    /// <summary>
    /// Grows the fd table, in one step, to take <paramref name="more"/> fds beyond those open now
    /// (within the limit): thousands of handed connections arriving would otherwise grow it by
    /// doublings, each of which waits for an RCU grace period (see <see cref="Libc.GrowFdTable"/>).
    /// </summary>
    public static void MakeRoom(int more, int reserve)
    {
        if (more <= 0) return;
        long limit = Libc.RaiseFileLimit();
        long highest = Math.Min(limit - 1, Open() + more + reserve);
        if (highest > 0) Libc.GrowFdTable((int)Math.Min(highest, int.MaxValue));
    }

    private static long Open()
    {
        try { return Directory.EnumerateFileSystemEntries("/proc/self/fd").LongCount(); }
        catch (IOException) { return 0; }
        catch (UnauthorizedAccessException) { return 0; }
    }
}
