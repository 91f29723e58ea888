using System.Runtime.InteropServices;

namespace Aeterna.Tool.Interop;

/// <summary>
/// Every libc call the supervisor makes, in one place. No package wraps these (Mono.Unix and
/// Tmds.LibC are not available here, and the BCL exposes neither posix_spawn file actions nor
/// waitpid), so they are declared with source-generated <see cref="LibraryImportAttribute"/>
/// stubs, which are trim- and AOT-safe. Linux only (x64 and arm64, glibc or musl).
/// </summary>
internal static unsafe partial class Libc
{
    private const string Lib = "libc";

    public const int SIGHUP = 1, SIGINT = 2, SIGQUIT = 3, SIGKILL = 9, SIGUSR1 = 10, SIGUSR2 = 12,
        SIGPIPE = 13, SIGTERM = 15, SIGCHLD = 17, SIGCONT = 18;

    public const int EINTR = 4, ECHILD = 10, ESRCH = 3, EBADF = 9;

    [LibraryImport(Lib, EntryPoint = "getpid")]
    public static partial int GetPid();

    [LibraryImport(Lib, EntryPoint = "geteuid")]
    public static partial uint GetEffectiveUserId();

    /// <summary>kill(2); a negative pid signals the whole process group.</summary>
    [LibraryImport(Lib, EntryPoint = "kill", SetLastError = true)]
    public static partial int Kill(int pid, int signal);

    [LibraryImport(Lib, EntryPoint = "waitpid", SetLastError = true)]
    public static partial int WaitPid(int pid, out int status, int options);

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

    [LibraryImport(Lib, EntryPoint = "prctl", SetLastError = true)]
    private static partial int Prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);

    private const int PR_SET_CHILD_SUBREAPER = 36;

    /// <summary>Orphaned descendants are re-parented to us instead of to PID 1, so we reap them (tini -s).</summary>
    public static bool BecomeChildSubreaper() => Prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0;

    [LibraryImport(Lib, EntryPoint = "signal")]
    private static partial nint Signal(int signal, nint handler);

    /// <summary>
    /// Puts SIGCHLD back to SIG_DFL. A parent that started us with SIGCHLD ignored would make the
    /// kernel reap our children itself, and we would never learn their exit codes.
    /// </summary>
    public static void DefaultChildSignal() => Signal(SIGCHLD, 0);

    [LibraryImport(Lib, EntryPoint = "umask")]
    public static partial uint Umask(uint mask);

    // ---- posix_spawn ------------------------------------------------------------------------
    // The opaque types are allocated with room to spare: glibc's posix_spawnattr_t is 336 bytes
    // and posix_spawn_file_actions_t 80 on x64 and arm64; musl's are smaller.
    public const int SpawnAttrSize = 1024, FileActionsSize = 512, SigSetSize = 128;

    public const short POSIX_SPAWN_SETPGROUP = 0x02, POSIX_SPAWN_SETSIGDEF = 0x04, POSIX_SPAWN_SETSIGMASK = 0x08;

    [LibraryImport(Lib, EntryPoint = "posix_spawn")]
    public static partial int PosixSpawn(out int pid, byte* path, void* fileActions, void* attr, byte** argv, byte** envp);

    [LibraryImport(Lib, EntryPoint = "posix_spawn_file_actions_init")]
    public static partial int FileActionsInit(void* actions);

    [LibraryImport(Lib, EntryPoint = "posix_spawn_file_actions_destroy")]
    public static partial int FileActionsDestroy(void* actions);

    [LibraryImport(Lib, EntryPoint = "posix_spawn_file_actions_adddup2")]
    public static partial int FileActionsAddDup2(void* actions, int fd, int newFd);

    [LibraryImport(Lib, EntryPoint = "posix_spawn_file_actions_addopen")]
    public static partial int FileActionsAddOpen(void* actions, int fd, byte* path, int flags, uint mode);

    [LibraryImport(Lib, EntryPoint = "posix_spawn_file_actions_addchdir_np")]
    public static partial int FileActionsAddChdir(void* actions, byte* path);

    [LibraryImport(Lib, EntryPoint = "posix_spawnattr_init")]
    public static partial int SpawnAttrInit(void* attr);

    [LibraryImport(Lib, EntryPoint = "posix_spawnattr_destroy")]
    public static partial int SpawnAttrDestroy(void* attr);

    [LibraryImport(Lib, EntryPoint = "posix_spawnattr_setflags")]
    public static partial int SpawnAttrSetFlags(void* attr, short flags);

    [LibraryImport(Lib, EntryPoint = "posix_spawnattr_setsigmask")]
    public static partial int SpawnAttrSetSigMask(void* attr, void* sigset);

    [LibraryImport(Lib, EntryPoint = "posix_spawnattr_setsigdefault")]
    public static partial int SpawnAttrSetSigDefault(void* attr, void* sigset);

    [LibraryImport(Lib, EntryPoint = "posix_spawnattr_setpgroup")]
    public static partial int SpawnAttrSetPgroup(void* attr, int pgroup);

    [LibraryImport(Lib, EntryPoint = "sigemptyset")]
    public static partial int SigEmptySet(void* set);

    [LibraryImport(Lib, EntryPoint = "sigfillset")]
    public static partial int SigFillSet(void* set);

    [LibraryImport(Lib, EntryPoint = "sigdelset")]
    public static partial int SigDelSet(void* set, int signal);

    public const int O_RDONLY = 0, O_WRONLY = 1, O_RDWR = 2;

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

    public static string SignalName(int signal) => signal switch
    {
        SIGHUP => "SIGHUP", SIGINT => "SIGINT", SIGQUIT => "SIGQUIT", 4 => "SIGILL", 5 => "SIGTRAP",
        6 => "SIGABRT", 7 => "SIGBUS", 8 => "SIGFPE", SIGKILL => "SIGKILL", SIGUSR1 => "SIGUSR1",
        11 => "SIGSEGV", SIGUSR2 => "SIGUSR2", SIGPIPE => "SIGPIPE", 14 => "SIGALRM", SIGTERM => "SIGTERM",
        SIGCHLD => "SIGCHLD", SIGCONT => "SIGCONT", 19 => "SIGSTOP", 24 => "SIGXCPU", 25 => "SIGXFSZ",
        _ => $"signal {signal}",
    };
}
