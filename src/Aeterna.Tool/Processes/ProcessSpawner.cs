using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Text;
using Aeterna.Interop;

namespace Aeterna.Tool.Processes;

/// <summary>
/// Starts child processes with posix_spawn through the exec shim (Native/aeterna-exec.c).
/// </summary>
/// <remarks>
/// Why posix_spawn and a shim rather than <see cref="System.Diagnostics.Process"/>: Process can
/// neither place fds at 3, 4, … nor set LISTEN_PID to the child's own pid, and using it at all
/// makes the runtime reap children behind our back (see <see cref="ChildReaper"/>). posix_spawn's
/// file actions place the listeners (dup2 onto a new number also clears close-on-exec, which
/// .NET sets on every socket), its attributes put the child in its own process group and undo
/// the runtime's ignored SIGPIPE and blocked signals; the shim then sets LISTEN_PID and the
/// parent-death signal inside the child and execs the program.
/// All spawns happen on one long-lived thread: the kernel sends PR_SET_PDEATHSIG when the
/// *thread* that forked the child exits, so a thread-pool thread would kill children at random.
/// </remarks>
internal sealed unsafe class ProcessSpawner
{
    private readonly ChildReaper _reaper;
    private readonly byte[] _shimPath;
    private readonly int _supervisorPid = Libc.GetPid();
    private readonly BlockingCollection<(SpawnSpec Spec, TaskCompletionSource<SpawnedProcess> Result)> _queue = [];

    public ProcessSpawner(ChildReaper reaper)
    {
        _reaper = reaper;
        _shimPath = Encoding.UTF8.GetBytes(ExecShim.Locate() + "\0");
        new Thread(SpawnLoop) { IsBackground = true, Name = "aeterna spawner" }.Start();
    }

    /// <summary>Starts <paramref name="spec"/>; throws <see cref="SpawnException"/> when the shim itself cannot run.</summary>
    public Task<SpawnedProcess> SpawnAsync(SpawnSpec spec)
    {
        var result = new TaskCompletionSource<SpawnedProcess>(TaskCreationOptions.RunContinuationsAsynchronously);
        _queue.Add((spec, result));
        return result.Task;
    }

    private void SpawnLoop()
    {
        foreach (var (spec, result) in _queue.GetConsumingEnumerable())
        {
            try { result.SetResult(Spawn(spec)); }
            catch (Exception e) { result.SetException(e); }
        }
    }

    private SpawnedProcess Spawn(SpawnSpec spec)
    {
        // Sources for dup2 must not lie in the target range 3..3+n, or an earlier dup2 would
        // overwrite a later source: copy them above it first.
        int firstFree = 3 + spec.InheritedFds.Count;
        var sources = spec.InheritedFds.Select(fd => Libc.DupCloseOnExec(fd, Math.Max(firstFree, 64))).ToArray();
        var argv = new List<string>(spec.Arguments.Count + 3) { "aeterna-exec", _supervisorPid.ToString(), spec.Program };
        argv.AddRange(spec.Arguments);
        using var nativeArgv = new NativeStringArray(argv);
        using var nativeEnv = new NativeStringArray(spec.Environment);
        byte* actions = stackalloc byte[Libc.FileActionsSize];
        byte* attr = stackalloc byte[Libc.SpawnAttrSize];
        byte* noSignals = stackalloc byte[Libc.SigSetSize];
        byte* allSignals = stackalloc byte[Libc.SigSetSize];
        Libc.FileActionsInit(actions);
        Libc.SpawnAttrInit(attr);
        try
        {
            fixed (byte* devNull = "/dev/null\0"u8)
            fixed (byte* workDir = Encoding.UTF8.GetBytes(spec.WorkingDirectory + "\0"))
            {
                Check(Libc.FileActionsAddOpen(actions, 0, devNull, Libc.O_RDONLY, 0), "stdin");
                if (spec.Stdout >= 0) Check(Libc.FileActionsAddDup2(actions, spec.Stdout, 1), "stdout");
                if (spec.Stderr >= 0) Check(Libc.FileActionsAddDup2(actions, spec.Stderr, 2), "stderr");
                for (int i = 0; i < sources.Length; i++)
                    Check(Libc.FileActionsAddDup2(actions, sources[i], 3 + i), "listener fd");
                Check(Libc.FileActionsAddChdir(actions, workDir), "working directory");

                Libc.SigEmptySet(noSignals);
                Libc.SigFillSet(allSignals);
                Libc.SpawnAttrSetSigMask(attr, noSignals);
                Libc.SpawnAttrSetSigDefault(attr, allSignals);
                Libc.SpawnAttrSetPgroup(attr, 0);
                Libc.SpawnAttrSetFlags(attr, Libc.POSIX_SPAWN_SETSIGMASK | Libc.POSIX_SPAWN_SETSIGDEF | Libc.POSIX_SPAWN_SETPGROUP);

                fixed (byte* shim = _shimPath)
                {
                    lock (_reaper.Gate)
                    {
                        int error = Libc.PosixSpawn(out int pid, shim, actions, attr, nativeArgv.Pointer, nativeEnv.Pointer);
                        if (error != 0)
                            throw new SpawnException($"cannot start {spec.Program}: posix_spawn of the exec shim failed: {Libc.ErrorText(error)}");
                        return new SpawnedProcess(pid, _reaper.Track(pid));
                    }
                }
            }
        }
        finally
        {
            Libc.FileActionsDestroy(actions);
            Libc.SpawnAttrDestroy(attr);
            foreach (int fd in sources) Libc.Close(fd);
        }
    }

    private static void Check(int error, string what)
    {
        if (error != 0) throw new SpawnException($"posix_spawn file action for {what} failed: {Libc.ErrorText(error)}");
    }

    /// <summary>A NULL-terminated char** of UTF-8 strings in native memory.</summary>
    private sealed class NativeStringArray : IDisposable
    {
        private readonly byte** _array;
        private readonly int _count;

        public NativeStringArray(IReadOnlyList<string> values)
        {
            _count = values.Count;
            _array = (byte**)NativeMemory.AllocZeroed((nuint)(_count + 1), (nuint)sizeof(byte*));
            for (int i = 0; i < _count; i++)
            {
                int length = Encoding.UTF8.GetByteCount(values[i]);
                byte* s = (byte*)NativeMemory.Alloc((nuint)length + 1);
                Encoding.UTF8.GetBytes(values[i], new Span<byte>(s, length));
                s[length] = 0;
                _array[i] = s;
            }
        }

        public byte** Pointer => _array;

        public void Dispose()
        {
            for (int i = 0; i < _count; i++) NativeMemory.Free(_array[i]);
            NativeMemory.Free(_array);
        }
    }
}

/// <summary>A process could not be started at all (as opposed to starting and failing).</summary>
internal sealed class SpawnException(string message) : Exception(message);
