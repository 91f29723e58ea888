using System.Runtime.InteropServices;

namespace Aeterna.Interop;

/// <summary>Processes and signals: spawning generations, reaping them, signalling them.</summary>
internal static unsafe partial class Libc
{
    public const int SIGHUP = 1, SIGINT = 2, SIGQUIT = 3, SIGKILL = 9, SIGUSR1 = 10, SIGUSR2 = 12,
        SIGPIPE = 13, SIGTERM = 15, SIGCHLD = 17, SIGCONT = 18;

    [LibraryImport(Lib, EntryPoint = "getpid")]
    public static partial int GetPid();

    [LibraryImport(Lib, EntryPoint = "geteuid")]
    public static partial uint GetEffectiveUserId();

    /// <summary>kill(2); a negative pid signals the whole process group.</summary>
    [LibraryImport(Lib, EntryPoint = "kill", SetLastError = true)]
    public static partial int Kill(int pid, int signal);

    [LibraryImport(Lib, EntryPoint = "waitpid", SetLastError = true)]
    public static partial int WaitPid(int pid, out int status, int options);

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

    [LibraryImport(Lib, EntryPoint = "access", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Access(string path, int mode);

    /// <summary>Whether this process may execute <paramref name="path"/> (access(2) with X_OK: owner, group, others and root all considered).</summary>
    public static bool CanExecute(string path) => Access(path, 1 /* X_OK */) == 0;

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

    public static string SignalName(int signal) => signal switch
    {
        SIGHUP => "SIGHUP", SIGINT => "SIGINT", SIGQUIT => "SIGQUIT", 4 => "SIGILL", 5 => "SIGTRAP",
        6 => "SIGABRT", 7 => "SIGBUS", 8 => "SIGFPE", SIGKILL => "SIGKILL", SIGUSR1 => "SIGUSR1",
        11 => "SIGSEGV", SIGUSR2 => "SIGUSR2", SIGPIPE => "SIGPIPE", 14 => "SIGALRM", SIGTERM => "SIGTERM",
        SIGCHLD => "SIGCHLD", SIGCONT => "SIGCONT", 19 => "SIGSTOP", 24 => "SIGXCPU", 25 => "SIGXFSZ",
        _ => $"signal {signal}",
    };
}
