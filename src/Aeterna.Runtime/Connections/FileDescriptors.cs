using Aeterna.Interop;

namespace Aeterna.Connections;

/// <summary>How many more file descriptors this process may open (docs/protocol.md, "The fd limit").</summary>
internal static class FileDescriptors
{
    /// <summary>RLIMIT_NOFILE's soft limit (raised to the hard one) minus those open now minus <paramref name="reserve"/>; at least 0.</summary>
    public static int Available(int reserve)
    {
        long limit = Libc.RaiseFileLimit();
        long open;
        try { open = Directory.EnumerateFileSystemEntries("/proc/self/fd").LongCount(); }
        catch (IOException) { open = 0; }
        catch (UnauthorizedAccessException) { open = 0; }
        return (int)Math.Clamp(limit - open - reserve, 0, int.MaxValue);
    }
}
