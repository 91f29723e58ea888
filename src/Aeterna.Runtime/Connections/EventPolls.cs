using System.Runtime.InteropServices;
using Aeterna.Interop;

namespace Aeterna.Connections;

/// <summary>
/// Keeps a handed socket out of this process's epoll instances where .NET would leave it behind.
/// </summary>
/// <remarks>
/// .NET registers a socket in its engines' epoll (keyed by fd number and open file description)
/// and never deletes the registration: it relies on close(2), which removes it only when the last
/// fd of the open file description closes. A handed connection's description lives on in the
/// other generation, so closing our fd leaves a stale entry under that fd number; when the same
/// connection comes back (a hand-back) on the same fd number, .NET's EPOLL_CTL_ADD fails with
/// EEXIST and the socket can never be waited on. So: delete before close, and delete before the
/// first use of a received fd (for an entry some other code left). The handed connections
/// themselves wait on <see cref="ConnectionPoll"/>, which deletes its own registrations; this is
/// for the .NET socket made over a connection's fd only when some code needs one.
/// </remarks>
internal static class EventPolls
{
    private static readonly Lazy<int[]> s_instances = new(Find);

    /// <summary>
    /// Finds the epoll instances now, while this process has few fds: finding them reads the link
    /// of every open fd, which for an importer that just received thousands of connections costs
    /// as much again as adopting them.
    /// </summary>
    public static void Prepare() => _ = s_instances.Value;

    /// <summary>Removes <paramref name="socket"/>'s fd from every epoll instance of this process (where it is not, nothing happens).</summary>
    public static void Forget(SafeHandle socket)
    {
        bool added = false;
        try
        {
            socket.DangerousAddRef(ref added);
            int fd = (int)socket.DangerousGetHandle();
            foreach (int epoll in s_instances.Value) Libc.EpollRemove(epoll, fd);
        }
        catch (ObjectDisposedException) { } // already closed
        finally
        {
            if (added) socket.DangerousRelease();
        }
    }

    /// <summary>
    /// The eventpoll fds open now. .NET creates its socket engines before the first socket
    /// operation, so by the first hand-over they are all there.
    /// </summary>
    private static int[] Find()
    {
        var found = new List<int>();
        try
        {
            foreach (string path in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
            {
                string? target;
                try { target = new FileInfo(path).LinkTarget; }
                catch (IOException) { continue; } // closed meanwhile
                if (target == "anon_inode:[eventpoll]" && int.TryParse(Path.GetFileName(path), out int fd) && !ConnectionPoll.IsOwn(fd)) found.Add(fd);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        return [.. found];
    }
}
