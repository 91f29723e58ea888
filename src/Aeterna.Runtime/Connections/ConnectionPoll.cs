using System.Collections.Concurrent;
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
    private readonly ConcurrentDictionary<ulong, ConnectionSocket> _registered = new();
    private long _nextKey;

    private ConnectionPoll()
    {
        var thread = new Thread(Run) { IsBackground = true, Name = "aeterna connections" };
        thread.UnsafeStart();
    }

    /// <summary>The one poll of this process (created, with its thread, when the first connection is served).</summary>
    public static ConnectionPoll Shared => s_shared.Value;

    /// <summary>Whether <paramref name="fd"/> is this poll's epoll instance (which <see cref="EventPolls"/> must leave alone).</summary>
    public static bool IsOwn(int fd) => s_shared.IsValueCreated && s_shared.Value._epoll == fd;

    /// <summary>A key for a connection's registrations: never reused, so a wake-up meant for a closed one finds nothing.</summary>
    public ulong NewKey() => (ulong)Interlocked.Increment(ref _nextKey);

    /// <summary>Arms <paramref name="fd"/> for <paramref name="events"/> (one-shot); registers it on first use. 0 or errno.</summary>
    public int Arm(ConnectionSocket socket, int fd, ulong key, uint events, bool registered)
    {
        if (!registered) _registered[key] = socket;
        int error = Libc.EpollSet(_epoll, fd, add: !registered, events | Libc.EPOLLONESHOT, key);
        if (error != 0 && !registered) _registered.TryRemove(key, out _);
        return error;
    }

    /// <summary>EPOLL_CTL_DEL, before close(2): the registration would otherwise live as long as the open file description, which the other generation may hold.</summary>
    public void Remove(int fd, ulong key)
    {
        Libc.EpollRemove(_epoll, fd);
        _registered.TryRemove(key, out _);
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
                var (ready, key) = Libc.EpollEvent(events, i);
                if (_registered.TryGetValue(key, out var socket)) socket.OnReady(ready);
            }
        }
    }
}
