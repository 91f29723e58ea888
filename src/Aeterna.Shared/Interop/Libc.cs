using System.Runtime.InteropServices;

namespace Aeterna.Interop;

/// <summary>
/// Every libc call of the supervisor and the runtime, in one place (this folder is compiled into
/// both). The BCL exposes neither posix_spawn file actions, waitpid, memfd seals nor SCM_RIGHTS.
/// Binding packages exist (Tmds.LibC, Mono.Unix, which ships a native library of its own), but they
/// would bring hundreds of declarations for the few dozen used here, so these are declared with
/// source-generated <see cref="LibraryImportAttribute"/> stubs, which are trim- and AOT-safe. Linux only (x64 and arm64, glibc or musl). One file per concern: this one holds what
/// every part uses (fds, errors); Processes, Memory and Sockets the rest.
/// </summary>
internal static unsafe partial class Libc
{
    private const string Lib = "libc";

    public const int EINTR = 4, ECHILD = 10, ESRCH = 3, EBADF = 9, EAGAIN = 11, EBUSY = 16, EINVAL = 22;

    [LibraryImport(Lib, EntryPoint = "write", SetLastError = true)]
    private static partial nint Write(int fd, byte* buffer, nuint count);

    /// <summary>
    /// write(2) all of <paramref name="data"/> at the fd's current offset. Unlike FileStream, which
    /// uses pwrite at a position of its own for regular files, this appends properly when the fd
    /// is shared with children (stderr redirected to a file): nobody overwrites anybody.
    /// </summary>
    public static bool WriteAll(int fd, ReadOnlySpan<byte> data)
    {
        fixed (byte* start = data)
        {
            int done = 0;
            while (done < data.Length)
            {
                nint written = Write(fd, start + done, (nuint)(data.Length - done));
                if (written > 0) done += (int)written;
                else if (written < 0 && Marshal.GetLastPInvokeError() == EINTR) continue;
                else return false;
            }
            return true;
        }
    }

    [LibraryImport(Lib, EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport(Lib, EntryPoint = "fcntl", SetLastError = true)]
    private static partial int Fcntl(int fd, int cmd, int arg);

    private const int F_DUPFD_CLOEXEC = 1030;

    /// <summary>Duplicates <paramref name="fd"/> to the lowest free fd ≥ <paramref name="minimum"/>, close-on-exec.</summary>
    public static int DupCloseOnExec(int fd, int minimum)
    {
        int result = Fcntl(fd, F_DUPFD_CLOEXEC, minimum);
        if (result < 0)
            throw new IOException($"fcntl(F_DUPFD_CLOEXEC) on fd {fd} failed: {Marshal.GetLastPInvokeErrorMessage()}");
        return result;
    }

    public const int O_RDONLY = 0, O_WRONLY = 1, O_RDWR = 2, O_DIRECTORY = 0x10000;

    [LibraryImport(Lib, EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags);

    [LibraryImport(Lib, EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    /// <summary>
    /// fsync(2) of a directory, so that a rename into it survives a crash (the BCL cannot open a
    /// directory as a file); false when the file system refuses.
    /// </summary>
    public static bool SyncDirectory(string path)
    {
        int fd = Open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) return false;
        try { return Fsync(fd) == 0; }
        finally { Close(fd); }
    }

    [LibraryImport(Lib, EntryPoint = "strerror")]
    private static partial nint StrError(int errno);

    public static string ErrorText(int errno) => Marshal.PtrToStringUTF8(StrError(errno)) ?? $"errno {errno}";

    [LibraryImport(Lib, EntryPoint = "pipe2", SetLastError = true)]
    public static partial int Pipe2(int* fds, int flags);

    public const int O_CLOEXEC = 0x80000;

    /// <summary>A close-on-exec pipe: (read end, write end).</summary>
    public static (int Read, int Write) Pipe()
    {
        int* fds = stackalloc int[2];
        if (Pipe2(fds, O_CLOEXEC) != 0)
            throw new IOException($"pipe2 failed: {Marshal.GetLastPInvokeErrorMessage()}");
        return (fds[0], fds[1]);
    }
}
