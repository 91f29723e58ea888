using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Aeterna.Interop;

/// <summary>
/// epoll(7), and recv(2)/send(2) on a socket fd that has no .NET <see cref="System.Net.Sockets.Socket"/>:
/// the handed connections' read loop waits for readiness on an epoll instance of its own and then
/// reads with MSG_DONTWAIT, so that a pause is a flag rather than a cancelled socket operation, and
/// so that the file status flags (O_NONBLOCK), which the other generation shares, are never touched.
/// </summary>
internal static unsafe partial class Libc
{
    public const uint EPOLLIN = 0x1, EPOLLOUT = 0x4, EPOLLERR = 0x8, EPOLLHUP = 0x10, EPOLLRDHUP = 0x2000, EPOLLONESHOT = 1u << 30;
    private const int EPOLL_CTL_ADD = 1, EPOLL_CTL_DEL = 2, EPOLL_CTL_MOD = 3, EPOLL_CLOEXEC = 0x80000;
    public const int EEXIST = 17, ENOENT = 2;

    /// <summary>
    /// struct epoll_event is packed on x86-64 (12 bytes: u32 events, then u64 data at offset 4) and
    /// naturally aligned elsewhere (16 bytes, data at offset 8).
    /// </summary>
    public static readonly int EpollEventSize = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 12 : 16;

    private static readonly int EpollDataOffset = EpollEventSize == 12 ? 4 : 8;

    [LibraryImport(Lib, EntryPoint = "epoll_create1", SetLastError = true)]
    private static partial int EpollCreate1(int flags);

    [LibraryImport(Lib, EntryPoint = "epoll_ctl", SetLastError = true)]
    private static partial int EpollControl(int epoll, int operation, int fd, byte* ev);

    [LibraryImport(Lib, EntryPoint = "epoll_wait", SetLastError = true)]
    private static partial int EpollWaitRaw(int epoll, byte* events, int max, int timeoutMs);

    [LibraryImport(Lib, EntryPoint = "recv", SetLastError = true)]
    private static partial nint Recv(SafeFileHandle fd, byte* buffer, nuint length, int flags);

    [LibraryImport(Lib, EntryPoint = "send", SetLastError = true)]
    private static partial nint SendRaw(SafeFileHandle fd, byte* buffer, nuint length, int flags);

    /// <summary>A close-on-exec epoll instance.</summary>
    public static int EpollCreate()
    {
        int epoll = EpollCreate1(EPOLL_CLOEXEC);
        if (epoll < 0) throw new IOException($"epoll_create1 failed: {Marshal.GetLastPInvokeErrorMessage()}");
        return epoll;
    }

    /// <summary>EPOLL_CTL_ADD (<paramref name="add"/>) or EPOLL_CTL_MOD of <paramref name="fd"/> with <paramref name="events"/>; 0 or errno.</summary>
    public static int EpollSet(int epoll, int fd, bool add, uint events, ulong data)
    {
        byte* ev = stackalloc byte[16];
        *(uint*)ev = events;
        *(ulong*)(ev + EpollDataOffset) = data;
        return EpollControl(epoll, add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, ev) == 0 ? 0 : Marshal.GetLastPInvokeError();
    }

    /// <summary>EPOLL_CTL_DEL; 0 or errno (ENOENT: it was not registered there).</summary>
    public static int EpollRemove(int epoll, int fd)
    {
        byte* ev = stackalloc byte[16]; // kernels before 2.6.9 wanted a non-null pointer
        return EpollControl(epoll, EPOLL_CTL_DEL, fd, ev) == 0 ? 0 : Marshal.GetLastPInvokeError();
    }

    /// <summary>epoll_wait into <paramref name="events"/> (whole epoll_event records); the count, or -errno.</summary>
    public static int EpollWait(int epoll, Span<byte> events, int timeoutMs)
    {
        fixed (byte* p = events)
        {
            int n = EpollWaitRaw(epoll, p, events.Length / EpollEventSize, timeoutMs);
            return n >= 0 ? n : -Marshal.GetLastPInvokeError();
        }
    }

    /// <summary>The i-th record of an epoll_wait buffer: (events, data).</summary>
    public static (uint Events, ulong Data) EpollEvent(ReadOnlySpan<byte> events, int i)
    {
        var record = events.Slice(i * EpollEventSize, EpollEventSize);
        return (MemoryMarshal.Read<uint>(record), MemoryMarshal.Read<ulong>(record[EpollDataOffset..]));
    }

    /// <summary>recv(2) with MSG_DONTWAIT; the bytes read (0: end of stream), or -errno.</summary>
    public static long ReceiveNow(SafeFileHandle fd, Span<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            nint n = Recv(fd, p, (nuint)buffer.Length, MSG_DONTWAIT);
            return n >= 0 ? n : -Marshal.GetLastPInvokeError();
        }
    }

    /// <summary>send(2) with MSG_DONTWAIT and MSG_NOSIGNAL (a closed peer is EPIPE, not SIGPIPE); the bytes sent, or -errno.</summary>
    public static long SendNow(SafeFileHandle fd, ReadOnlySpan<byte> data)
    {
        fixed (byte* p = data)
        {
            nint n = SendRaw(fd, p, (nuint)data.Length, MSG_DONTWAIT | MSG_NOSIGNAL);
            return n >= 0 ? n : -Marshal.GetLastPInvokeError();
        }
    }
}
