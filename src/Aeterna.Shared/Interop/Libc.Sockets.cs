using System.Runtime.InteropServices;

namespace Aeterna.Interop;

/// <summary>
/// Unix sockets with file descriptors attached (SCM_RIGHTS), which System.Net.Sockets cannot
/// send or receive: socketpair, sendmsg and recvmsg.
/// </summary>
internal static unsafe partial class Libc
{
    public const int AF_UNIX = 1, SOCK_STREAM = 1, SOCK_CLOEXEC = 0x80000;
    private const int SOL_SOCKET = 1, SCM_RIGHTS = 1;
    public const int MSG_NOSIGNAL = 0x4000, MSG_DONTWAIT = 0x40, MSG_CMSG_CLOEXEC = 0x40000000, MSG_CTRUNC = 0x8;

    /// <summary>At most this many fds travel with one frame (the kernel's limit is 253).</summary>
    public const int MaxFdsPerMessage = 64;

    [StructLayout(LayoutKind.Sequential)]
    private struct IoVector
    {
        public void* Base;
        public nuint Length;
    }

    /// <summary>struct msghdr (64-bit layout; musl's padded ints read the same on little-endian).</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct MessageHeader
    {
        public void* Name;
        public uint NameLength;
        public IoVector* Vectors;
        public nuint VectorCount;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    /// <summary>struct cmsghdr header: 16 bytes on 64-bit, the fds follow.</summary>
    private const int ControlHeaderSize = 16;

    [LibraryImport(Lib, EntryPoint = "socketpair", SetLastError = true)]
    private static partial int SocketPair(int domain, int type, int protocol, int* fds);

    [LibraryImport(Lib, EntryPoint = "sendmsg", SetLastError = true)]
    private static partial nint SendMessage(int fd, MessageHeader* message, int flags);

    [LibraryImport(Lib, EntryPoint = "recvmsg", SetLastError = true)]
    private static partial nint ReceiveMessage(int fd, MessageHeader* message, int flags);

    /// <summary>A connected pair of close-on-exec Unix stream sockets.</summary>
    public static (int, int) StreamSocketPair()
    {
        int* fds = stackalloc int[2];
        if (SocketPair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
            throw new IOException($"socketpair failed: {Marshal.GetLastPInvokeErrorMessage()}");
        return (fds[0], fds[1]);
    }

    /// <summary>
    /// One sendmsg of (part of) <paramref name="first"/> then <paramref name="second"/>, with
    /// <paramref name="fds"/> attached to the first byte. Returns the bytes sent, or -errno.
    /// </summary>
    public static long Send(int socket, ReadOnlySpan<byte> first, ReadOnlySpan<byte> second, ReadOnlySpan<int> fds)
    {
        if (fds.Length > MaxFdsPerMessage) throw new ArgumentException($"at most {MaxFdsPerMessage} fds per message", nameof(fds));
        int controlLength = fds.Length == 0 ? 0 : ControlHeaderSize + Align8(fds.Length * sizeof(int));
        byte* control = stackalloc byte[Math.Max(controlLength, 1)];
        fixed (byte* a = first)
        fixed (byte* b = second)
        fixed (int* descriptors = fds)
        {
            var vectors = stackalloc IoVector[2];
            vectors[0] = new IoVector { Base = a, Length = (nuint)first.Length };
            vectors[1] = new IoVector { Base = b, Length = (nuint)second.Length };
            var message = new MessageHeader { Vectors = vectors, VectorCount = second.IsEmpty ? 1u : 2u };
            if (controlLength > 0)
            {
                new Span<byte>(control, controlLength).Clear();
                *(nuint*)control = (nuint)(ControlHeaderSize + fds.Length * sizeof(int));
                *(int*)(control + 8) = SOL_SOCKET;
                *(int*)(control + 12) = SCM_RIGHTS;
                Buffer.MemoryCopy(descriptors, control + ControlHeaderSize, fds.Length * sizeof(int), fds.Length * sizeof(int));
                message.Control = control;
                message.ControlLength = (nuint)controlLength;
            }
            nint sent = SendMessage(socket, &message, MSG_NOSIGNAL | MSG_DONTWAIT);
            return sent >= 0 ? sent : -Marshal.GetLastPInvokeError();
        }
    }

    /// <summary>
    /// One non-blocking recvmsg with room for at most <paramref name="maxFds"/> fds: a control
    /// buffer of exactly CMSG_LEN(4 × maxFds) bytes (CMSG_SPACE would round up and admit one more),
    /// none for 0. The kernel installs that many and drops the rest, saying so with MSG_CTRUNC
    /// (<paramref name="truncated"/>); it also drops what would pass RLIMIT_NOFILE. Returns the
    /// bytes read (0 at end of stream), or -errno.
    /// </summary>
    public static long Receive(int socket, Span<byte> buffer, List<int> fds, int maxFds, out bool truncated)
    {
        truncated = false;
        maxFds = Math.Clamp(maxFds, 0, MaxFdsPerMessage);
        int controlLength = maxFds == 0 ? 0 : ControlHeaderSize + maxFds * sizeof(int);
        byte* control = stackalloc byte[ControlHeaderSize + MaxFdsPerMessage * sizeof(int)];
        fixed (byte* data = buffer)
        {
            var vector = new IoVector { Base = data, Length = (nuint)buffer.Length };
            var message = new MessageHeader { Vectors = &vector, VectorCount = 1, Control = controlLength == 0 ? null : control, ControlLength = (nuint)controlLength };
            nint received = ReceiveMessage(socket, &message, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
            if (received < 0) return -Marshal.GetLastPInvokeError();
            // Walk the control messages: each is cmsg_len, level, type, then the fds.
            byte* cursor = control;
            byte* end = control + (int)message.ControlLength;
            while (controlLength > 0 && cursor + ControlHeaderSize <= end)
            {
                int length = (int)*(nuint*)cursor;
                if (length < ControlHeaderSize || cursor + length > end) break;
                if (*(int*)(cursor + 8) == SOL_SOCKET && *(int*)(cursor + 12) == SCM_RIGHTS)
                    for (int i = 0; i < (length - ControlHeaderSize) / sizeof(int); i++)
                        fds.Add(((int*)(cursor + ControlHeaderSize))[i]);
                cursor += ControlHeaderSize + Align8(length - ControlHeaderSize);
            }
            truncated = (message.Flags & MSG_CTRUNC) != 0;
            return received;
        }
    }

    [LibraryImport(Lib, EntryPoint = "getsockopt", SetLastError = true)]
    private static partial int GetSocketOption(int fd, int level, int name, int* value, uint* length);

    private const int SO_TYPE = 3;

    /// <summary>SOCK_STREAM (1), SOCK_DGRAM (2), …, or -1 when <paramref name="fd"/> is not a socket.</summary>
    public static int SocketType(int fd)
    {
        int type;
        uint length = sizeof(int);
        return GetSocketOption(fd, SOL_SOCKET, SO_TYPE, &type, &length) == 0 ? type : -1;
    }

    private const int SO_PEERCRED = 17;

    /// <summary>The uid of the process at the other end of a Unix socket (struct ucred { pid; uid; gid; } from SO_PEERCRED).</summary>
    public static uint PeerUid(System.Net.Sockets.Socket socket)
    {
        Span<byte> ucred = stackalloc byte[12];
        socket.GetRawSocketOption(SOL_SOCKET, SO_PEERCRED, ucred);
        return System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(ucred[4..]);
    }

    private static int Align8(int n) => (n + 7) & ~7;
}
