using Aeterna.Interop;

namespace Aeterna.Tool.Processes;

/// <summary>How a process ended: an exit code, or the signal that killed it.</summary>
internal readonly record struct ExitStatus(int Code, int Signal)
{
    public bool Signaled => Signal != 0;

    /// <summary>The code a shell would report: the exit code, or 128 + the signal number.</summary>
    public int ShellCode => Signaled ? 128 + Signal : Code;

    /// <summary>Decodes a waitpid(2) status word (WIFEXITED / WTERMSIG).</summary>
    public static ExitStatus FromWaitStatus(int status)
    {
        int termSignal = status & 0x7f;
        return termSignal == 0 ? new ExitStatus((status >> 8) & 0xff, 0) : new ExitStatus(0, termSignal);
    }

    public override string ToString() =>
        Signaled ? $"killed by {Libc.SignalName(Signal)}" : $"exited with code {Code}";
}
