using System.Runtime.InteropServices;
using Aeterna.Interop;

namespace Aeterna.Tool.Processes;

/// <summary>
/// Reaps every child of this process (our generations, pre-flight commands, and, as PID 1 or
/// child subreaper, every orphan re-parented to us) on one dedicated thread blocked in
/// waitpid(-1). Exit statuses of tracked pids complete their tasks; the rest are orphans.
/// </summary>
/// <remarks>
/// Why not SIGCHLD through PosixSignalRegistration: when the .NET runtime runs as PID 1 and has a
/// SIGCHLD handler installed, its own signal thread calls waitpid(-1) before any managed handler
/// runs, so our generations' exit codes would be lost. The runtime installs that handler only for
/// System.Diagnostics.Process, a SIGCHLD PosixSignalRegistration, or terminal handling in
/// System.Console. The supervisor therefore uses none of them: processes are started with
/// posix_spawn (<see cref="ProcessSpawner"/>) and logs go to fd 2 directly.
/// </remarks>
internal sealed class ChildReaper
{
    private readonly Dictionary<int, TaskCompletionSource<ExitStatus>> _tracked = [];
    private readonly AutoResetEvent _childStarted = new(false);
    private long _orphansReaped;

    /// <summary>Held while a child is spawned and registered, so that its exit cannot be reaped unclaimed.</summary>
    public object Gate { get; } = new();

    /// <summary>Processes reaped that no one was waiting for (orphaned descendants).</summary>
    public long OrphansReaped => Interlocked.Read(ref _orphansReaped);

    public ChildReaper()
    {
        Libc.DefaultChildSignal();
        var thread = new Thread(ReapLoop) { IsBackground = true, Name = "aeterna reaper" };
        thread.Start();
    }

    /// <summary>Starts waiting for <paramref name="pid"/>. The caller holds <see cref="Gate"/> from spawn to here.</summary>
    public Task<ExitStatus> Track(int pid)
    {
        var exited = new TaskCompletionSource<ExitStatus>(TaskCreationOptions.RunContinuationsAsynchronously);
        _tracked.Add(pid, exited);
        _childStarted.Set();
        return exited.Task;
    }

    private void ReapLoop()
    {
        while (true)
        {
            int pid = Libc.WaitPid(-1, out int status, 0);
            if (pid > 0)
            {
                TaskCompletionSource<ExitStatus>? exited;
                lock (Gate)
                {
                    if (_tracked.Remove(pid, out exited) is false)
                        Interlocked.Increment(ref _orphansReaped);
                }
                exited?.TrySetResult(ExitStatus.FromWaitStatus(status));
                continue;
            }
            int errno = Marshal.GetLastPInvokeError();
            if (errno == Libc.ECHILD)
                _childStarted.WaitOne(TimeSpan.FromMilliseconds(250)); // no children: wait for the next spawn
            else if (errno != Libc.EINTR)
                Thread.Sleep(10);
        }
    }
}
