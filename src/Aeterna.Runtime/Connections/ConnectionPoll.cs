using Aeterna.Interop;

namespace Aeterna.Connections;

/// <summary>
/// The runtime's own epoll instance for handed connections, waited on by one dedicated thread that
/// tells each <see cref="ConnectionSocket"/> what became ready.
/// </summary>
/// <remarks>
/// Why not .NET's sockets: each socket .NET waits on costs a registration with its engine's epoll
/// (never deleted, see <see cref="EventPolls"/>), and a wait can only be ended by cancelling it,
/// which throws. At a relay ten thousand connections pause and ten thousand more start at once, so
/// those costs are the hand-over's. Here a registration is one epoll_ctl, kept across rounds, and
/// a pause is a flag the next readiness finds. Registrations are one-shot (EPOLLONESHOT): readiness
/// disarms the fd until its connection arms it again, so one connection is never being read by two
/// threads, and a connection that is paused or held stops being reported after one wake-up.
/// </remarks>
internal sealed class ConnectionPoll
{
    private const int MaxEvents = 256;

    private static readonly Lazy<ConnectionPoll> s_shared = new(() => new ConnectionPoll());

    private readonly int _epoll = Libc.EpollCreate();
    private readonly Lock _tableLock = new();

    /// <summary>
    /// The registered connections by fd number (written under the lock, read by the poll's thread
    /// without it). An array rather than a dictionary keyed by the tag: a relay registers ten
    /// thousand at once, and a dictionary insert cost more than half as much as the epoll_ctl.
    /// </summary>
    private ConnectionSocket?[] _byFd = new ConnectionSocket?[1024];
    private long _nextKey;

    private ConnectionPoll()
    {
        var thread = new Thread(Run) { IsBackground = true, Name = "aeterna connections" };
        thread.UnsafeStart();
    }

    /// <summary>The one poll of this process (created, with its thread, with the first handed connection).</summary>
    public static ConnectionPoll Shared => s_shared.Value;

    /// <summary>Whether <paramref name="fd"/> is this poll's epoll instance (which <see cref="EventPolls"/> must leave alone).</summary>
    public static bool IsOwn(int fd) => s_shared.IsValueCreated && s_shared.Value._epoll == fd;

    /// <summary>
    /// A tag for a connection's registrations, kept in their epoll data beside the fd: a wake-up
    /// already fetched for a connection that closed meanwhile finds another tag under its fd number.
    /// </summary>
    public uint NewKey() => (uint)Interlocked.Increment(ref _nextKey);

    /// <summary>Arms <paramref name="fd"/> for <paramref name="events"/> (one-shot); registers it on first use. 0 or errno.</summary>
    public int Arm(ConnectionSocket socket, int fd, uint key, uint events, bool registered)
    {
        if (!registered) Put(fd, socket);
        int error = Libc.EpollSet(_epoll, fd, add: !registered, events | Libc.EPOLLONESHOT, (ulong)key << 32 | (uint)fd);
        if (error != 0 && !registered) Take(fd, socket);
        return error;
    }

    /// <summary>EPOLL_CTL_DEL, before close(2): the registration would otherwise live as long as the open file description, which the other generation may hold.</summary>
    public void Remove(ConnectionSocket socket, int fd)
    {
        Libc.EpollRemove(_epoll, fd);
        Take(fd, socket);
    }

    private void Put(int fd, ConnectionSocket socket)
    {
        lock (_tableLock)
        {
            var table = _byFd;
            if (fd >= table.Length)
            {
                // Published before the fd is registered, so the poll's thread reads it for any wake-up of the fd.
                Array.Resize(ref table, Math.Max(table.Length * 2, fd + 1));
                Volatile.Write(ref _byFd, table);
            }
            Volatile.Write(ref table[fd], socket);
        }
    }

    private void Take(int fd, ConnectionSocket socket)
    {
        lock (_tableLock)
        {
            var table = _byFd;
            if (fd < table.Length && table[fd] == socket) Volatile.Write(ref table[fd], null);
        }
    }

    private void Run()
    {
        var events = new byte[MaxEvents * Libc.EpollEventSize];
        while (true)
        {
            int n = Libc.EpollWait(_epoll, events, -1);
            if (n == -Libc.EINTR) continue;
            if (n < 0) throw new IOException($"epoll_wait failed: {Libc.ErrorText(-n)}"); // EBADF/EINVAL: a bug, not a condition
            for (int i = 0; i < n; i++)
            {
                var (ready, data) = Libc.EpollEvent(events, i);
                int fd = (int)(uint)data;
                var table = Volatile.Read(ref _byFd);
                if (fd < table.Length && Volatile.Read(ref table[fd]) is { } socket && socket.Key == (uint)(data >> 32)) socket.OnReady(ready);
            }
        }
    }
}
